#!/bin/sh
# bench/profile.sh — where taskdb's client time goes, per operation.
#
#   sh bench/profile.sh [OP...]      OP: get list create update toggle delete bulk,
#                                    or OP+trace: the same with a trace function
#
# Starts its own cluster (bench/pgcluster.sh), lays down the W1 rows, and
# runs bench/profile.lua under valgrind's callgrind: instructions per
# operation (the run with N minus the run with 0, so set-up cancels out),
# and the functions of src/ (and the libc/libpq/Lua calls they make) that
# cost the most, per operation.  With strace installed, also system calls
# per operation.  Files are kept in $TASKDB_BUILD/bench-profile/.
# Instruction counts are exact and repeatable, unlike times on a shared VM.
set -eu

. "$(dirname -- "$0")/paths.sh"
OUTDIR="$(dirname -- "$TASKSHELL")/bench-profile"
[ -x "$TASKSHELL" ] || { echo "profile: $TASKSHELL is missing; run make first" >&2; exit 1; }
command -v valgrind >/dev/null 2>&1 || { echo "profile: valgrind is not installed" >&2; exit 1; }
[ $# -gt 0 ] || set -- get list create update toggle bulk delete

# shellcheck source=bench/pgcluster.sh
. "$HERE/pgcluster.sh"
trap 'bench_pg_stop' EXIT
trap 'exit 130' INT TERM
bench_pg_start
PSQL="$PGBIN/psql"
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE bench" \
    -c "ALTER DATABASE bench SET synchronous_commit = off"
DATABASE_URL="postgresql:///bench?host=$BENCH_SOCK&user=postgres"
export DATABASE_URL
"$TASKSHELL" -e 'local db = require("taskdb").connect(); db:init_db(); db:close()'
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d bench <<'EOF'
-- One transaction per task in W1, so every row has its own created_at.
INSERT INTO public.tasks (user_id, title, description, created_at, updated_at)
SELECT 'bench-user-' || (g % 200), 'task ' || g, 'benchmark description ' || repeat('0', 38), ts, ts
FROM (SELECT g, clock_timestamp() AS ts FROM generate_series(0, 19999) AS g) s ORDER BY g;
INSERT INTO public.tasks (user_id, title, description)
SELECT 'bench-bulk', 'task ' || g, 'benchmark description ' || repeat('0', 38)
FROM generate_series(0, 99999) AS g ORDER BY g;
VACUUM ANALYZE public.tasks;
EOF
rm -rf -- "$OUTDIR"
mkdir -p -- "$OUTDIR"

count_of() {   # OP -> operations per profiled run
    case ${1%+trace} in
        list) echo 500 ;;
        bulk) echo 100000 ;;
        *) echo 2000 ;;
    esac
}

total_ir() { sed -n 's/^totals: *//p; s/^summary: *//p' "$1" | head -n 1; }

for op in "$@"; do
    n=$(count_of "$op")
    for k in 0 "$n"; do
        TASKSHELL_ALLOC=${TASKSHELL_ALLOC:-pool} \
        valgrind --tool=callgrind --callgrind-out-file="$OUTDIR/cg.$op.$k" \
            "$TASKSHELL" "$HERE/profile.lua" "$op" "$k" >/dev/null 2>"$OUTDIR/valgrind.$op.$k.log"
    done
    base=$(total_ir "$OUTDIR/cg.$op.0")
    full=$(total_ir "$OUTDIR/cg.$op.$n")
    echo
    echo "== $op: $n operations: $(( (full - base) / n )) instructions per operation (whole process)"
    # Inclusive cost per operation of the project's functions and of the
    # libc/libpq/Lua calls that matter: (N run - 0 run) / N.
    for k in 0 "$n"; do
        callgrind_annotate --inclusive=yes --threshold=100 "$OUTDIR/cg.$op.$k" 2>/dev/null |
            awk -v k="$k" '
                /file:function/ { on = 1; getline; next }
                on && /^[[:space:]]*$/ { exit }
                on && /src\/(core|binding)\/|snprintf\.c:snprintf|PQisBusy|PQsendQueryPrepared|lua_(pushlstring|setfield|createtable|next)/ {
                    ir = $1; gsub(",", "", ir); fn = $0
                    sub(/^[ 0-9,]+\([ 0-9.%]+\) +\*? */, "", fn); sub(/ \[.*$/, "", fn)
                    sub(/^.*src\//, "", fn); sub(/^.*\//, "", fn)
                    if (!seen[fn]++) print k, ir, fn
                }'
    done | awk -v n="$n" '
        $1 == 0 { base[$3] = $2; next }
        { cost = ($2 - base[$3]) / n; if (cost >= 100) printf "  %10.0f  %s\n", cost, $3 }' |
        sort -rn | head -n 25
    if command -v strace >/dev/null 2>&1 && [ "${op%+trace}" != bulk ] && [ "${op%+trace}" != delete ]; then
        for k in 0 "$n"; do
            strace -f -c -o "$OUTDIR/strace.$op.$k" "$TASKSHELL" "$HERE/profile.lua" "$op" "$k" \
                >/dev/null 2>&1 || true
        done
        b=$(awk '$NF == "total" { print $(NF-2) }' "$OUTDIR/strace.$op.0")
        f=$(awk '$NF == "total" { print $(NF-2) }' "$OUTDIR/strace.$op.$n")
        echo "  system calls per operation: $(awk -v b="$b" -v f="$f" -v n="$n" 'BEGIN { printf "%.2f", (f - b) / n }')"
    fi
done
# Reference: pgbench's own client cost for the same get statement, from
# the catalogue, in a minimal script (one user, so no string juggling).
SQLDUMP="$(dirname -- "$TASKSHELL")/taskdb-sql"
if [ -x "$SQLDUMP" ] && [ -x "$PGBIN/pgbench" ]; then
    # shellcheck disable=SC2016  # $1, $2 are the SQL parameters, not shell
    sql=$("$SQLDUMP" | awk -F '\t' '$1 == "get_user" { print $3 }' | sed 's/\$1/:id/; s/\$2/:u/')
    printf '%s\n' '\set id random(1, 20000)' "$sql;" >"$OUTDIR/pgbench_get.sql"
    for t in 100 2100; do
        valgrind --tool=callgrind --callgrind-out-file="$OUTDIR/cg.pgbench.$t" "$PGBIN/pgbench" \
            -n -M prepared -c 1 -j 1 -t "$t" -D u=bench-user-0 -f "$OUTDIR/pgbench_get.sql" bench \
            >/dev/null 2>&1
    done
    echo
    echo "== pgbench (reference), get_user: $(( ($(total_ir "$OUTDIR/cg.pgbench.2100") - $(total_ir "$OUTDIR/cg.pgbench.100")) / 2000 ))" \
         "instructions per transaction (whole process)"
fi
echo
echo "profile: callgrind files in $OUTDIR/ (callgrind_annotate --inclusive=yes FILE)"
