#!/bin/sh
# bench/pgbench.sh — the same-run pgbench baseline of W1, one phase at a time.
#
#   sh bench/pgbench.sh step PHASE     PHASE: create get list update toggle delete bulk single
#   sh bench/pgbench.sh growth TAG     get and list only, on W1 rows already in place
#
# bench/workload.lua runs `step PHASE` (through BENCH_BETWEEN) just before
# its own PHASE, so both clients run each phase side by side in time and a
# burst of other work on the machine hits both alike.  pgbench works on its
# own database (BENCH_PGDB, a copy of the set-up of taskdb's), with
# `-M prepared -c 1 -j 1 -n`, on the scripts bench/pgbench_gen.lua wrote
# from build/taskdb-sql; bulk is timed `psql \copy`.  Figures (pg.PHASE.n,
# .ops, .p50, .p99; copy.*) are appended to BENCH_PG_OUT.  Before each
# phase both tables get an untimed VACUUM ANALYZE (taskdb's is BENCH_TDDB),
# so autovacuum does not wake at a random moment inside a timed phase with
# the dead rows of the earlier ones.
#
# The growth form runs get and list against the W1 rows (task i as id
# base + i, among any number of other rows) of BENCH_PGDB and prints
# pgTAG.get.* and pgTAG.list.*: the control for taskdb's growth check.
#
# Environment (exported by bench/run.sh): BENCH_WORK (scripts/ and logs),
# BENCH_N, BENCH_NLIST, BENCH_NBULK, BENCH_SEED, BENCH_PGDB, BENCH_TDDB,
# BENCH_PG_OUT, BENCH_DESC, PGBENCH, PSQL, TASKSHELL, BENCH_DIR; PGHOST and
# PGUSER from bench/pgcluster.sh.
set -eu

CMD=$1 ARG=$2
WORK=$BENCH_WORK N=$BENCH_N NLIST=$BENCH_NLIST NBULK=$BENCH_NBULK SEED=$BENCH_SEED
NPAIRS=100           # one script per pair of users: see pgbench_gen.lua
WARM=12              # warm-up runs per script: 6 per statement
PER=$((N / NPAIRS))  # tasks per pair, and measured runs per script
LQUOTA=$((NLIST / NPAIRS))
: "${PGBENCH:=pgbench}" "${PSQL:=psql}"
PGDATABASE=$BENCH_PGDB; export PGDATABASE   # (pgbench's -d means --debug)

if [ $((PER * NPAIRS)) -ne "$N" ] || [ $((PER % 2)) -ne 0 ] ||
   [ $((LQUOTA * NPAIRS)) -ne "$NLIST" ]; then
    echo "bench: N must be a multiple of 200 and NLIST of 100" >&2
    exit 1
fi

sql() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
settle() {
    sql "VACUUM ANALYZE public.tasks"
    "$PSQL" -X -q -At -v ON_ERROR_STOP=1 -d "$BENCH_TDDB" -c "VACUUM ANALYZE public.tasks"
}

# pgbench transactions so that every script surely gets WARM + QUOTA runs
# when scripts are drawn at random: 6.5 standard deviations of margin (the
# draw is fixed by --random-seed; pglog.lua checks it anyway).
total_for() {
    awk -v need=$((WARM + $1)) -v k=$NPAIRS \
        'BEGIN { m = ((6.5 + sqrt(42.25 + 4 * need)) / 2) ^ 2; printf "%d\n", k * m + 1 }'
}

# Options and -D definitions common to every phase (no spaces in names).
set -- -n -M prepared -c 1 -j 1 --random-seed="$SEED" \
    -D warm=$WARM -D per=$PER -D seed="$SEED" -D fl=f -D all=1000000000 \
    -D "title=task 10000" -D "title2=task 10000 renamed" -D "desc=$BENCH_DESC"
u=0
while [ "$u" -lt $((2 * NPAIRS)) ]; do
    set -- "$@" -D "u$u=bench-user-$u"
    [ "$u" -lt "$NPAIRS" ] && set -- "$@" -D "c$u=0"
    u=$((u + 1))
done

# phase KEY NAME QUOTA [options...]: prints KEY.NAME.* figures.
phase() {
    key=$1 name=$2 quota=$3
    shift 3
    k=0
    while [ "$k" -lt "$NPAIRS" ]; do
        set -- "$@" -f "$WORK/scripts/$name/p$k.sql@1"
        k=$((k + 1))
    done
    rm -f "$WORK/log_$name".*
    "$PGBENCH" "$@" -D quota="$quota" -t "$(total_for "$quota")" \
        -l --log-prefix="$WORK/log_$name" >"$WORK/pgbench_$name.out" 2>&1 || {
        tail -n 20 "$WORK/pgbench_$name.out" >&2
        echo "bench: pgbench phase $name failed" >&2
        exit 1
    }
    # shellcheck disable=SC2086  # one log file per pgbench thread (-j 1)
    "$TASKSHELL" "$BENCH_DIR/pglog.lua" "$key.$name" $WARM "$quota" $NPAIRS "$WORK/log_$name".*
}

# The id of task 0 of the W1 rows in the table (task i is id base + i),
# checked against the titles ("task i"): call it before update renames them.
w1_base() {
    w1="user_id LIKE 'bench-user-%'"
    got=$(sql "SELECT count(*) || ' ' || min(id) || ' ' || max(id) FROM public.tasks WHERE $w1")
    cnt=${got%% *} rest=${got#* }
    base=${rest%% *} max=${rest#* }
    if [ "$cnt" -ne "$N" ] || [ $((max - base + 1)) -ne "$N" ] ||
       [ "$(sql "SELECT count(*) FROM public.tasks WHERE $w1 AND id - $base <> substr(title, 6)::int")" -ne 0 ]; then
        echo "bench: W1 rows not laid down as id = base + i ($got)" >&2
        exit 1
    fi
    echo "$base"
}

if [ "$CMD" = growth ]; then
    base=$(w1_base)
    phase "pg$ARG" get "$PER" "$@" -D base="$base"
    phase "pg$ARG" list "$LQUOTA" "$@" -D base="$base"
    exit 0
fi
[ "$CMD" = step ] || { echo "usage: sh bench/pgbench.sh step PHASE | growth TAG" >&2; exit 2; }

case $ARG in
create)
    sql "TRUNCATE public.tasks"
    settle
    phase pg create "$PER" "$@" -D base=0 >>"$BENCH_PG_OUT"
    made=$(sql "SELECT count(*) FROM public.tasks")
    [ "$made" -eq "$N" ] || { echo "bench: pgbench create made $made rows, not $N" >&2; exit 1; }
    ;;
get)
    # The later phases address task i as id base + i, so the W1 rows are
    # laid down again in order i (same rows, same created_at order).
    "$PSQL" -X -q -v ON_ERROR_STOP=1 -v n="$N" -v desc="$BENCH_DESC" <<'EOF'
TRUNCATE public.tasks;
INSERT INTO public.tasks (user_id, title, description, created_at, updated_at)
SELECT 'bench-user-' || (g % 200), 'task ' || g, :'desc', t, t
FROM generate_series(0, :n - 1) AS g,
     LATERAL (SELECT now() + g * interval '1 microsecond' AS t) AS x
ORDER BY g;
CHECKPOINT;
EOF
    base=$(w1_base)
    echo "$base" >"$WORK/base"
    settle
    phase pg get "$PER" "$@" -D base="$base" >>"$BENCH_PG_OUT"
    ;;
list)
    base=$(cat "$WORK/base")
    settle
    phase pg list "$LQUOTA" "$@" -D base="$base" >>"$BENCH_PG_OUT"
    ;;
update|toggle|delete)
    base=$(cat "$WORK/base")
    settle
    phase pg "$ARG" "$PER" "$@" -D base="$base" >>"$BENCH_PG_OUT"
    if [ "$ARG" = delete ] && [ "$(sql "SELECT count(*) FROM public.tasks")" -ne 0 ]; then
        echo "bench: pgbench delete left rows (expected every task deleted once)" >&2
        exit 1
    fi
    ;;
bulk)
    # psql \copy of the same rows as taskdb's create_tasks: one COPY, one
    # transaction (ids from the column default).  \timing covers the COPY
    # alone, not psql's start-up or connection.
    settle
    awk -v n="$NBULK" -v d="$BENCH_DESC" \
        'BEGIN { for (i = 0; i < n; i++) printf "bench-bulk\ttask %d\t%s\tf\n", i, d }' \
        >"$WORK/bulk.tsv"
    out=$("$PSQL" -X -v ON_ERROR_STOP=1 -c '\timing on' \
        -c "\\copy public.tasks (user_id, title, description, completed) from '$WORK/bulk.tsv'")
    ms=$(printf '%s\n' "$out" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 1)
    [ -n "$ms" ] || { echo "bench: no timing from psql \\copy: $out" >&2; exit 1; }
    awk -v n="$NBULK" -v ms="$ms" \
        'BEGIN { printf "copy.n=%d\ncopy.seconds=%.6f\ncopy.rate=%.3f\n", n, ms / 1000, n / (ms / 1000) }' \
        >>"$BENCH_PG_OUT"
    rm -f "$WORK/bulk.tsv"
    ;;
*)
    settle   # a taskdb-only phase (single): just settle both tables
    ;;
esac
