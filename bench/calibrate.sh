#!/bin/sh
# bench/calibrate.sh — what the pgbench baseline's own machinery costs.
#
#   sh bench/calibrate.sh [REPS]
#
# bench/run.sh's pgbench baseline needs 100 scripts, per-script counters and
# 200 prepared copies of each statement to stand in for 200 users (pgbench
# has no string values: see pgbench_gen.lua).  This measures, for the get
# phase, pinned like run.sh (BENCH_PIN=same), REPS times (default 5):
#   flat  one script, one user, one statement, that user's 100 rows: the
#         least pgbench can do per get
#   one   one of the benchmark's scripts alone (2 users, 200 rows)
#   all   the benchmark's 100 scripts, as in `make bench`
# and prints each one's median ops/s and p50.  The gap between flat and
# all is what the baseline spends on standing in for 200 users.
set -eu

. "$(dirname -- "$0")/paths.sh"
REPS=${1:-5}

if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
    BENCH_SERVER_CPUS=1
    export BENCH_SERVER_CPUS
    taskset -p -c 1 $$ >/dev/null
fi
# shellcheck source=bench/pgcluster.sh
. "$HERE/pgcluster.sh"
trap 'bench_pg_stop' EXIT
trap 'exit 130' INT TERM
bench_pg_start
PSQL="$PGBIN/psql"
PGBENCH="$PGBIN/pgbench"
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE bench" \
    -c "ALTER DATABASE bench SET synchronous_commit = off"
DATABASE_URL="postgresql:///bench?host=$BENCH_SOCK&user=postgres" "$TASKSHELL" \
    -e 'local db = require("taskdb").connect(); db:init_db(); db:close()'
PGDATABASE=bench
export PGDATABASE
"$PSQL" -X -q -v ON_ERROR_STOP=1 <<'EOF'
INSERT INTO public.tasks (user_id, title, description, created_at, updated_at)
SELECT 'bench-user-' || (g % 200), 'task ' || g, repeat('x', 60), t, t
FROM generate_series(0, 19999) AS g,
     LATERAL (SELECT now() + g * interval '1 microsecond' AS t) AS x
ORDER BY g;
VACUUM ANALYZE public.tasks;
EOF
base=$("$PSQL" -X -At -c "SELECT min(id) FROM public.tasks")
W="$BENCH_TMP/calib"
mkdir -p "$W/scripts"
"$SQLDUMP" >"$W/catalogue.tsv"
"$TASKSHELL" "$HERE/pgbench_gen.lua" "$W/catalogue.tsv" "$W/scripts"
# shellcheck disable=SC2016  # $1, $2 are the SQL parameters, not shell
sql=$(awk -F '\t' '$1 == "get_user" { print $3 }' "$W/catalogue.tsv" | sed 's/\$1/:id/; s/\$2/:u0/')
printf '%s\n' '\set j random(0, 99)' '\set id :base + 200 * :j' "$sql;" >"$W/flat.sql"

set -- -n -M prepared -c 1 -j 1 --random-seed=42 -D base="$base" -D warm=12 -D per=200 -D seed=42
u=0
while [ "$u" -lt 200 ]; do
    set -- "$@" -D "u$u=bench-user-$u"
    [ "$u" -lt 100 ] && set -- "$@" -D "c$u=0"
    u=$((u + 1))
done
files=""
k=0
while [ "$k" -lt 100 ]; do files="$files -f $W/scripts/get/p$k.sql@1"; k=$((k + 1)); done

: >"$W/results"
r=1
while [ "$r" -le "$REPS" ]; do
    rm -f "$W"/log_*
    "$PGBENCH" "$@" -t 21200 -f "$W/flat.sql" -l --log-prefix="$W/log_flat" >/dev/null 2>&1
    # flat.sql has no warm-up of its own: its first 1,200 runs are left out.
    "$TASKSHELL" "$HERE/pglog.lua" flat 1200 20000 1 "$W"/log_flat.* >>"$W/results"
    "$PGBENCH" "$@" -D quota=20000 -t 21212 -f "$W/scripts/get/p0.sql" \
        -l --log-prefix="$W/log_one" >/dev/null 2>&1
    "$TASKSHELL" "$HERE/pglog.lua" one 12 20000 1 "$W"/log_one.* >>"$W/results"
    # shellcheck disable=SC2086  # $files is a list of options
    "$PGBENCH" "$@" -D quota=200 -t 30000 $files -l --log-prefix="$W/log_all" >/dev/null 2>&1
    "$TASKSHELL" "$HERE/pglog.lua" all 12 200 100 "$W"/log_all.* >>"$W/results"
    r=$((r + 1))
done
"$TASKSHELL" - "$W/results" <<'EOF'
  local v = {}
  for line in io.lines(arg[1]) do
    local k, x = line:match("^([%w.]+)=(.*)$")
    if k then v[k] = v[k] or {}; table.insert(v[k], tonumber(x)) end
  end
  local function med(k) local l = v[k]; table.sort(l); return l[(#l + 1) // 2] end
  for _, s in ipairs({ "flat", "one", "all" }) do
    print(string.format("%-5s %9.0f ops/s   p50 %5.1f us   p99 %6.1f us", s,
      med(s .. ".ops"), med(s .. ".p50"), med(s .. ".p99")))
  end
EOF
