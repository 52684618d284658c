#!/bin/sh
# bench/run.sh — `make bench`: the standard workload W1
# (bench/WORKLOAD.md) through taskdb's public Lua API, beside a
# same-run pgbench baseline on the very statements the core sends.
#
#   sh bench/run.sh                 full run (3 runs per figure, ~3-5 minutes)
#   BENCH_RUNS=5 sh bench/run.sh    more runs per figure (medians; for a noisy machine)
#   BENCH_QUICK=1 sh bench/run.sh   smoke run: 1 run, counts / 10
#   BENCH_SECTIONS=net sh bench/run.sh   only the network section (default: "local net")
#
# The local section (W1 over the Unix socket) comes first, then the
# network section (bench/net.sh: the workload through a delay line of 2 ms
# and 10 ms round trips, about a minute).
#
# Environment: TASKDB_BUILD (build directory, default `build`), BENCH_PGBIN
# (PostgreSQL server binaries, default /usr/lib/postgresql/15/bin),
# BENCH_SEED (default 42), BENCH_PIN (same, split or 0: see below).
# Everything runs against a private, fresh
# cluster in a temporary directory (bench/pgcluster.sh), removed on exit;
# the user's DATABASE_URL is never used.  The raw figures and the table are
# kept in $TASKDB_BUILD/bench-last/.
set -eu

. "$(dirname -- "$0")/paths.sh"
SEED=${BENCH_SEED:-42}

for f in "$TASKSHELL" "$SQLDUMP"; do
    [ -x "$f" ] || { echo "bench: $f is missing; run make first" >&2; exit 1; }
done

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    QUICK=1 RUNS=1 N=2000 NLIST=200 NBULK=10000 NSINGLE=2000 NOTHER=100000 STARTUP_RUNS=5 NTRACE=1000
else
    QUICK=0 RUNS=${BENCH_RUNS:-3} N=20000 NLIST=2000 NBULK=100000 NSINGLE=20000 NOTHER=1000000 STARTUP_RUNS=20 NTRACE=10000
fi
BULK_USER=bench-bulk
SECTIONS=${BENCH_SECTIONS:-local net}
want() { case " $SECTIONS " in *" $1 "*) return 0 ;; esac; return 1; }

# The fixed 60-character description of W1, shared by both sides.
BENCH_DESC=$(printf 'benchmark description %038d' 0)
export BENCH_DESC

# CPU pinning.  Left to the scheduler, a client and its backend sometimes
# share a CPU and sometimes not; on this VM a wake-up across CPUs costs so
# much that a round trip moves between ~20 and ~80 us with placement alone,
# differently for taskdb and pgbench, from one run to the next.  So:
#   BENCH_PIN=same (default)  server and clients all on CPU 1: round trips
#                             without cross-CPU wake-ups, so client CPU time
#                             shows in full and runs repeat within a few %;
#                             CPU 0 is left to whatever else runs
#   BENCH_PIN=split           server on CPU 0, clients on CPU 1
#   BENCH_PIN=0               no pinning
PIN=${BENCH_PIN:-same}
if [ "$PIN" != 0 ] && command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
    case $PIN in
        split) BENCH_SERVER_CPUS=0 ;;
        *) PIN=same BENCH_SERVER_CPUS=1 ;;
    esac
    export BENCH_SERVER_CPUS
    taskset -p -c 1 $$ >/dev/null
else
    PIN=0
fi

# shellcheck source=bench/pgcluster.sh
. "$HERE/pgcluster.sh"
trap 'bench_pg_stop' EXIT
trap 'exit 130' INT TERM
bench_pg_start
PGBENCH="$PGBIN/pgbench"
[ -x "$PGBENCH" ] || PGBENCH=$(command -v pgbench)
PSQL="$PGBIN/psql"
[ -x "$PSQL" ] || PSQL=$(command -v psql)
export PGBENCH PSQL TASKSHELL
BENCH_DIR=$HERE
export BENCH_DIR

OUT="$BENCH_TMP/out"
mkdir -p "$OUT" "$BENCH_TMP/pgbench/scripts"

sql() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 -d "${2:-bench}" -c "$1"; }
note() { echo "bench: $*" >&2; }

# Two databases set up alike: `bench` for taskdb, `bench_pg` for pgbench,
# so the two clients can run each phase side by side (see pgbench.sh).
# W1: the benchmark's connection runs with synchronous_commit = off.  The
# library sends no SQL from Lua, so it is set for the database: every
# connection to it (taskdb's, pgbench's, psql's) gets it.
for db in bench bench_pg; do
    sql "CREATE DATABASE $db ENCODING 'UTF8' TEMPLATE template0" postgres
    sql "ALTER DATABASE $db SET synchronous_commit = off" postgres
    DATABASE_URL="postgresql:///$db?host=$BENCH_SOCK&user=postgres" "$TASKSHELL" \
        -e 'local db = require("taskdb").connect(); db:init_db(); db:close()'
done
note "synchronous_commit = $(sql 'SHOW synchronous_commit') for databases bench and bench_pg" \
     "(ALTER DATABASE ... SET synchronous_commit = off): client overhead, not fsync, is measured"
DATABASE_URL="postgresql:///bench?host=$BENCH_SOCK&user=postgres"
export DATABASE_URL

# What pgbench.sh needs; workload.lua runs `pgbench.sh step PHASE` before
# each of its own phases (BENCH_BETWEEN).
BENCH_WORK="$BENCH_TMP/pgbench" BENCH_N=$N BENCH_NLIST=$NLIST BENCH_NBULK=$NBULK
BENCH_SEED=$SEED BENCH_PGDB=bench_pg BENCH_TDDB=bench
# shellcheck disable=SC2089,SC2090  # a command line for Lua's os.execute (sh -c)
BENCH_BETWEEN="sh '$HERE/pgbench.sh' step"
# shellcheck disable=SC2090
export BENCH_WORK BENCH_N BENCH_NLIST BENCH_NBULK BENCH_SEED BENCH_PGDB BENCH_TDDB BENCH_BETWEEN

# Autovacuum and autoanalyze runs on public.tasks of database $1 so far
# (the statistics lag by up to a second).
autovacuums() {
    sql "SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0) FROM pg_stat_user_tables WHERE relid = 'public.tasks'::regclass" "$1"
}

# The pgbench scripts, generated from the core's own statement catalogue.
"$SQLDUMP" >"$BENCH_TMP/pgbench/catalogue.tsv"
"$TASKSHELL" "$HERE/pgbench_gen.lua" "$BENCH_TMP/pgbench/catalogue.tsv" "$BENCH_TMP/pgbench/scripts"

# --- the machine and the versions ----------------------------------------------
{
    echo "machine.nproc=$(nproc --all)"
    echo "machine.cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    echo "machine.mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "machine.kernel=$(uname -r)"
    echo "machine.server=PostgreSQL $(sql 'SHOW server_version')"
    echo "machine.pgbench=$("$PGBENCH" --version)"
    echo "machine.taskshell=$("$TASKSHELL" -v 2>&1 | head -n 1)"
    echo "machine.lua=$("$TASKSHELL" -e 'io.write(_VERSION)')"
    echo "machine.libpq=$(dpkg-query -W -f='${Version}' libpq5 2>/dev/null || echo '?')"
    echo "machine.cc=$(${CC:-cc} --version 2>/dev/null | head -n 1)"
    echo "info.quick=$QUICK"
    echo "info.runs=$RUNS"
    echo "info.pin=$PIN"
    echo "machine.load_start=$(cut -d" " -f1-3 /proc/loadavg)"
} >"$OUT/machine.txt"

# Empty table, and a checkpoint so none falls inside a measured phase.
reset_table() {
    sql "TRUNCATE public.tasks"
    sql "CHECKPOINT"
}

# The local section: W1, start-up, growth (not indented, to keep it as it was).
if want local; then

# --- W1, RUNS times: each phase by pgbench, then by taskdb -----------------------
r=1
while [ "$r" -le "$RUNS" ]; do
    note "run $r/$RUNS: W1, phase by phase: pgbench (same statements), then taskdb"
    reset_table
    BENCH_PG_OUT="$OUT/run$r.pg"
    export BENCH_PG_OUT
    : >"$BENCH_PG_OUT"
    td0=$(autovacuums bench) pg0=$(autovacuums bench_pg)
    "$TASKSHELL" "$HERE/workload.lua" run "$N" "$NLIST" "$NBULK" "$NSINGLE" "$SEED" >"$OUT/run$r.td"
    sleep 1   # let the statistics catch up
    echo "autovacuum.td=$(( $(autovacuums bench) - td0 ))" >>"$OUT/run$r.td"
    echo "autovacuum.pg=$(( $(autovacuums bench_pg) - pg0 ))" >>"$OUT/run$r.pg"
    # The same single operations with a trace function off and on (two
    # connections taking turns): what tracing costs when it is on.
    "$TASKSHELL" "$HERE/workload.lua" trace "$NTRACE" "$SEED" >"$OUT/run$r.trace"
    # Memory, each in its own process: idle baseline vs after iterating.
    "$TASKSHELL" "$HERE/workload.lua" idle >"$OUT/run$r.mem"
    "$TASKSHELL" "$HERE/workload.lua" each "$BULK_USER" "$NBULK" >>"$OUT/run$r.mem"
    "$TASKSHELL" "$HERE/workload.lua" getall "$BULK_USER" "$NBULK" >>"$OUT/run$r.mem"
    r=$((r + 1))
done

# --- start-up: taskshell -e connect + init_db on the existing table ------------
note "start-up: $STARTUP_RUNS runs"
"$TASKSHELL" "$HERE/workload.lua" startup "$STARTUP_RUNS" "$TASKSHELL" >"$OUT/startup.txt"

# --- growth: get and 100-row list with NOTHER other tasks vs N -----------------
# taskdb and, as the control, pgbench (same statements), alternating, 3
# times in each state: if both slow down alike, the server is what grew.
growth_measure() {   # TAG
    k=1
    while [ "$k" -le 3 ]; do
        "$TASKSHELL" "$HERE/workload.lua" growth "$N" "$NLIST" "$((SEED + k))" "$1" >>"$OUT/growth.txt"
        BENCH_PGDB=bench BENCH_SEED=$((SEED + k)) sh "$HERE/pgbench.sh" growth "$1" >>"$OUT/growth.txt"
        k=$((k + 1))
    done
}
note "growth check: $N W1 rows, then $NOTHER more rows of other users"
reset_table
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d bench -v n="$N" -v desc="$BENCH_DESC" <<'EOF'
INSERT INTO public.tasks (user_id, title, description, created_at, updated_at)
SELECT 'bench-user-' || (g % 200), 'task ' || g, :'desc', t, t
FROM generate_series(0, :n - 1) AS g,
     LATERAL (SELECT now() + g * interval '1 microsecond' AS t) AS x
ORDER BY g;
VACUUM ANALYZE public.tasks;
CHECKPOINT;
EOF
echo "info.growth_small=$(sql 'SELECT count(*) FROM public.tasks')" >>"$OUT/machine.txt"
growth_measure small
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d bench -v n="$N" -v other="$NOTHER" -v desc="$BENCH_DESC" <<'EOF'
INSERT INTO public.tasks (user_id, title, description, created_at, updated_at)
SELECT 'other-user-' || (g % 10000), 'task ' || g, :'desc', t, t
FROM generate_series(0, :other - 1) AS g,
     LATERAL (SELECT now() + (:n + g) * interval '1 microsecond' AS t) AS x
ORDER BY g;
VACUUM ANALYZE public.tasks;
CHECKPOINT;
EOF
echo "info.growth_big=$(sql 'SELECT count(*) FROM public.tasks')" >>"$OUT/machine.txt"
growth_measure big
fi

# --- the network section -----------------------------------------------------------
if want net; then
    note "network: the workload through a delay line of 2 ms and 10 ms round trips"
    sh "$HERE/net.sh" "$OUT/net.txt" "$BENCH_TMP/net"
fi

# --- the tables ------------------------------------------------------------------
echo "machine.load_end=$(cut -d" " -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"
: >"$OUT/table.txt"
if want local; then
    "$TASKSHELL" "$HERE/report.lua" "$OUT/machine.txt" "$OUT"/run*.td "$OUT"/run*.pg \
        "$OUT"/run*.mem "$OUT"/run*.trace "$OUT/growth.txt" "$OUT/startup.txt" >>"$OUT/table.txt"
    echo >>"$OUT/table.txt"
fi
if want net; then
    "$TASKSHELL" "$HERE/net_report.lua" "$OUT/net.txt" >>"$OUT/table.txt"
fi
cat "$OUT/table.txt"
KEEP="$(dirname -- "$TASKSHELL")/bench-last"
rm -rf -- "$KEEP"
mkdir -p -- "$KEEP"
cp -- "$OUT"/* "$KEEP"/
note "raw figures and the table: $KEEP/"
