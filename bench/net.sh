#!/bin/sh
# bench/net.sh — the network section of `make bench`: the workload through
# a delay line (bench/delayline.c, build/delayline) of 2 ms and 10 ms round
# trips, beside pgbench on the same statements (bench/net_pgbench_gen.lua)
# with \startpipeline in batches of 100: the practical limit, measured in
# the same run.
#
#   sh bench/net.sh OUTFILE WORKDIR
#
# Run by bench/run.sh on its private cluster (PGHOST is its socket
# directory; PGBENCH, PSQL, TASKSHELL, BENCH_DESC exported).  The line
# listens on a free loopback port and forwards to the server's Unix socket;
# taskdb connects to it with a URL as a user writes it, without sslmode:
# libpq's default asks the server for TLS first, which this server (no
# TLS) declines, one round trip of every connect.  Figures go to OUTFILE as net.RTT.* key=value
# lines (bench/net_report.lua prints them).  BENCH_NET_RTTS (default
# "2 10") lists the round trips in ms.
set -eu

HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd -P)
OUTFILE=$1 WORK=$2
DELAYLINE="$(dirname -- "$TASKSHELL")/delayline"
RTTS=${BENCH_NET_RTTS:-2 10}
SOCKET="$PGHOST/.s.PGSQL.5432"
SELECT1_RUNS=100
DEPENDENT_PAIRS=100     # 200 calls, as the taskdb side
PIPE_RUNS=5             # pgbench pipeline figures: medians of 5

[ -x "$DELAYLINE" ] || { echo "bench: $DELAYLINE is missing; run make first" >&2; exit 1; }
mkdir -p "$WORK/scripts"
note() { echo "bench: $*" >&2; }
sql() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

for db in net net_pg; do
    sql postgres "CREATE DATABASE $db ENCODING 'UTF8' TEMPLATE template0"
    sql postgres "ALTER DATABASE $db SET synchronous_commit = off"
    DATABASE_URL="postgresql:///$db?host=$PGHOST&user=postgres" "$TASKSHELL" \
        -e 'local db = require("taskdb").connect(); db:init_db(); db:close()'
done
"$(dirname -- "$TASKSHELL")/taskdb-sql" >"$WORK/catalogue.tsv"
"$TASKSHELL" "$HERE/net_pgbench_gen.lua" "$WORK/catalogue.tsv" "$WORK/scripts"
DIRECT_URL="postgresql:///net?host=$PGHOST&user=postgres"

LINE_PID=""
stop_line() {
    [ -z "$LINE_PID" ] || { kill "$LINE_PID" 2>/dev/null || true; wait "$LINE_PID" 2>/dev/null || true; }
    LINE_PID=""
}
trap stop_line EXIT

# pgbench through the line: NAME SCRIPT TRANSACTIONS [options...]; the
# per-transaction log (latencies in us) is left in $WORK/NAME.log.
pgb() {
    name=$1 script=$2 n=$3
    shift 3
    rm -f "$WORK/$name".log*
    "$PGBENCH" -n -M prepared -c 1 -j 1 -h 127.0.0.1 -p "$PORT" -U postgres -t "$n" \
        -f "$WORK/scripts/$script" -l --log-prefix="$WORK/$name.log" \
        -D "desc=$BENCH_DESC" -D "title=net task" -D fl=f -D c=0 "$@" net_pg \
        >"$WORK/$name.out" 2>&1 || {
        tail -n 20 "$WORK/$name.out" >&2
        echo "bench: pgbench $name failed" >&2
        exit 1
    }
    cat "$WORK/$name".log.* >"$WORK/$name.log"
}
# Milliseconds of the logged transactions after the first SKIP: sum, median.
log_sum() { awk -v skip="$2" 'NR > skip { s += $3 } END { printf "%.3f\n", s / 1000 }' "$WORK/$1.log"; }
log_median() {
    awk -v skip="$2" 'NR > skip { print $3 / 1000 }' "$WORK/$1.log" | sort -n |
        awk '{ v[NR] = $1 } END { printf "%.3f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# 500 open tasks of user $1 in net_pg, ids base .. base + 499: prints base.
pg_open_tasks() {
    u=$1
    got=$(sql net_pg "INSERT INTO public.tasks (user_id, title, description)
        SELECT '$u', 'open task ' || g, '$BENCH_DESC' FROM generate_series(1, 500) g;
        SELECT min(id) || ' ' || max(id) || ' ' || count(*) FROM public.tasks WHERE user_id = '$u'")
    set -- $got
    [ "$3" -eq 500 ] && [ $(($2 - $1)) -eq 499 ] ||
        { echo "bench: net_pg rows not contiguous ($got)" >&2; exit 1; }
    echo "$1"
}

td() {   # PHASE: the taskdb side, its keys prefixed with the line's RTT
    "$TASKSHELL" "$HERE/net_workload.lua" "$1" "$LINE_URL" "$STATS" "$DIRECT_URL" \
        >"$WORK/td-$1.out" || { echo "bench: taskdb phase $1 failed" >&2; exit 1; }
    sed "s/^net\\./net.$RTT./" "$WORK/td-$1.out" >>"$OUTFILE"
}

for RTT in $RTTS; do
    note "network: a delay line of $RTT ms round trips"
    STATS="$WORK/line$RTT.stats"
    rm -f "$WORK/line$RTT.port"
    "$DELAYLINE" -u "$SOCKET" -r "$RTT" -p "$WORK/line$RTT.port" -s "$STATS" \
        2>"$WORK/line$RTT.log" &
    LINE_PID=$!
    i=0
    until [ -s "$WORK/line$RTT.port" ]; do
        i=$((i + 1))
        [ "$i" -lt 100 ] || { cat "$WORK/line$RTT.log" >&2; echo "bench: the delay line did not start" >&2; exit 1; }
        sleep 0.05
    done
    PORT=$(cat "$WORK/line$RTT.port")
    LINE_URL="postgresql://postgres@127.0.0.1:$PORT/net"
    echo "net.$RTT.nominal_ms=$RTT" >>"$OUTFILE"

    # The link itself: SELECT 1 (the first run prepares).
    pgb select1 select1.sql $((SELECT1_RUNS + 1))
    echo "net.$RTT.select1.median_ms=$(log_median select1 1)" >>"$OUTFILE"
    echo "net.$RTT.select1.mean_ms=$(awk -v n=$SELECT1_RUNS "BEGIN { printf \"%.3f\", $(log_sum select1 1) / n }")" >>"$OUTFILE"

    # Dependent calls: create then get, pgbench then taskdb.
    pgb dependent dependent.sql $((DEPENDENT_PAIRS + 1)) -D "u=net-pg-dependent-$RTT"
    echo "net.$RTT.pg.dependent.calls=$((2 * DEPENDENT_PAIRS))" >>"$OUTFILE"
    echo "net.$RTT.pg.dependent.ms=$(log_sum dependent 1)" >>"$OUTFILE"
    td dependent

    # Complete every open task: pgbench toggles in pipelines of 100, then
    # taskdb with each_task + toggle_complete, then with one update_tasks.
    k=0
    while [ "$k" -lt "$PIPE_RUNS" ]; do
        u="net-pg-complete-$RTT-$k"
        base=$(pg_open_tasks "$u")
        pgb complete complete.sql 6 -D "u=$u" -D "base=$base"
        left=$(sql net_pg "SELECT count(*) FROM public.tasks WHERE user_id = '$u' AND NOT completed")
        [ "$left" -eq 0 ] || { echo "bench: pgbench left $left open tasks" >&2; exit 1; }
        echo "net.$RTT.pg.complete.ms=$(log_sum complete 1)" >>"$OUTFILE"
        k=$((k + 1))
    done
    td complete
    td set

    # 500 independent creates: pgbench in pipelines of 100, then taskdb.
    k=0
    while [ "$k" -lt "$PIPE_RUNS" ]; do
        pgb create create.sql 6 -D "u=net-pg-create-$RTT-$k"
        echo "net.$RTT.pg.create.ms=$(log_sum create 1)" >>"$OUTFILE"
        k=$((k + 1))
    done
    td independent

    # Round trips per call, counted by the line.
    td roundtrips
    stop_line
done
