#!/bin/sh
# spec/run.sh -- every C test and every busted spec, against a private,
# throw-away PostgreSQL + PgBouncer + hung server (spec/support/testenv.sh),
# and a pg_auto_failover formation when a spec requires
# spec.support.formation (spec/support/formation.sh).
#
#   1. each $BUILD/ctest/* binary (its last `N passed, N failed` line counts;
#      a crash or non-zero exit without failures reported counts as 1 failed)
#   2. busted on the specs directly  (--exclude-tags=bouncer_only)
#   3. busted again through PgBouncer (--exclude-tags=direct_only)
# The last line printed is `N passed, N failed`; exit 0 iff nothing failed.
#
# Environment:
#   TASKDB_BUILD     build directory (default: build)
#   TASKDB_SPECS     spec directory for busted (default: spec)
#   TASKDB_VALGRIND  1: run the C tests and the busted host under valgrind
#   TASKDB_VERBOSE   1: stream every TAP line, not just failures
#   TASKDB_TEST_TIMEOUT  seconds allowed per C test / busted pass (default 900)
# Full output of each step is kept in $BUILD/test-logs/.
# shellcheck disable=SC2317  # functions run from traps look unreachable
set -u

PROJECT=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd -P)
cd "$PROJECT" || exit 1
BUILD=${TASKDB_BUILD:-build}
case $BUILD in /*) ;; *) BUILD="$PROJECT/$BUILD" ;; esac
export TASKDB_BUILD="$BUILD" TASKDB_PROJECT_DIR="$PROJECT"
SPECS=${TASKDB_SPECS:-spec}
VERBOSE=${TASKDB_VERBOSE:-0}
TIMEOUT=${TASKDB_TEST_TIMEOUT:-900}
LOGS="$BUILD/test-logs"   # where the logs of the last run end up
LOGDIR=""                 # this run's logs until it ends (concurrent runs)

PASSED=0
FAILED=0
SKIPPED=0

say() { printf '%s\n' "$*"; }

# The summary is the last line of every run, interrupted or not.
finish() {
    [ "$SKIPPED" -eq 0 ] || say "($SKIPPED skipped)"
    say "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
    exit $?
}

# Programs under test run as background jobs that this shell waits for, so a
# signal reaches the trap at once instead of after the job ends (`timeout`
# puts them in a process group of their own, out of reach of Ctrl-C).
# Never a bare `wait`: hangd is a child of this shell too.
CHILD_PIDFILE=""   # holds the pid of the running `timeout`
JOB=""             # the background job this shell is waiting for
interrupted() {
    say "interrupted"
    if [ -n "$CHILD_PIDFILE" ] && [ -s "$CHILD_PIDFILE" ]; then
        kill -TERM "$(cat "$CHILD_PIDFILE")" 2>/dev/null
    fi
    [ -z "$JOB" ] || wait "$JOB"
    FAILED=$((FAILED + 1))
    finish
}

# Logs are written privately and moved into place at the end, so two runs
# sharing a build directory cannot delete each other's files.
publish_logs() {
    [ -n "$LOGDIR" ] && [ -d "$LOGDIR" ] || return 0
    rm -f "$LOGDIR/.pid" "$LOGDIR"/.rc-* "$LOGDIR"/.counts-*
    chmod 755 "$LOGDIR"
    rm -rf "$LOGS"
    mv -T "$LOGDIR" "$LOGS" 2>/dev/null || rm -rf "$LOGDIR"
}

. "$PROJECT/spec/support/testenv.sh"
. "$PROJECT/spec/support/formation.sh"
trap 'formation_stop; testenv_stop; publish_logs' EXIT
trap interrupted INT TERM HUP

mkdir -p "$BUILD" && LOGDIR=$(mktemp -d "$BUILD/.test-logs.XXXXXX") ||
    { say "cannot write logs under $BUILD"; FAILED=1; finish; }

# valgrind wraps the programs under test, never the shell or busted's Lua.
VALGRIND=""
if [ "${TASKDB_VALGRIND:-0}" = 1 ]; then
    command -v valgrind >/dev/null 2>&1 ||
        { say "TASKDB_VALGRIND=1 but valgrind is not installed"; FAILED=1; finish; }
    VALGRIND="valgrind --quiet --error-exitcode=99 --leak-check=full"
    VALGRIND="$VALGRIND --errors-for-leak-kinds=definite --show-leak-kinds=definite"
    VALGRIND="$VALGRIND --num-callers=30 --keep-debuginfo=yes"
    if [ -f "$PROJECT/spec/support/valgrind.supp" ]; then
        VALGRIND="$VALGRIND --suppressions=$PROJECT/spec/support/valgrind.supp"
    fi
    TIMEOUT=$((TIMEOUT * 4))
fi

# --- the environment -------------------------------------------------------------
# Runs a start command, its output to `log`; if it fails, shows the log and
# ends the run with one failure.
start_or_finish() {   # what log command [argument...]
    what=$1 log=$2
    shift 2
    if ! "$@" >"$log" 2>&1; then
        cat "$log"
        say "could not start $what"
        FAILED=$((FAILED + 1))
        finish
    fi
}

say "== test environment"
t0=$(date +%s)
start_or_finish "the test environment" "$LOGDIR/testenv.log" testenv_start
cat "$LOGDIR/testenv.log"
say "PostgreSQL $(cat "$TASKDB_TEST_PGDATA/PG_VERSION") on $TASKDB_TEST_SOCKDIR" \
    "and 127.0.0.1:$TASKDB_TEST_PGPORT (TLS), PgBouncer on" \
    "127.0.0.1:$TASKDB_TEST_BOUNCER_PORT, hangd on" \
    "127.0.0.1:$TASKDB_TEST_HANG_PORT ($(($(date +%s) - t0)) s)"
# The pg_auto_failover formation costs seconds to start: only when a spec uses it.
if formation_wanted "$SPECS"; then
    t0=$(date +%s)
    start_or_finish "the pg_auto_failover formation" "$LOGDIR/formation.log" formation_start
    say "pg_auto_failover formation: monitor on" \
        "127.0.0.1:$TASKDB_TEST_FORMATION_MONITOR_PORT, nodes on" \
        "127.0.0.1:$TASKDB_TEST_FORMATION_NODE1_PORT and" \
        "127.0.0.1:$TASKDB_TEST_FORMATION_NODE2_PORT ($(($(date +%s) - t0)) s)"
fi
# Specs never see the developer's database: connect() with no argument
# reaches the scratch database too.
export DATABASE_URL="$TASKDB_TEST_URL"

# --- 1. C tests --------------------------------------------------------------------
indent() { sed 's/^/    /'; }

run_ctest() {   # path
    name=ctest/$(basename "$1")
    log="$LOGDIR/ctest-$(basename "$1").log"
    CHILD_PIDFILE="$LOGDIR/.pid"
    # shellcheck disable=SC2086  # VALGRIND is a word list on purpose
    timeout -k 10 "$TIMEOUT" $VALGRIND "$1" >"$log" 2>&1 </dev/null &
    JOB=$!
    echo "$JOB" >"$CHILD_PIDFILE"
    wait "$JOB"
    rc=$?
    JOB="" CHILD_PIDFILE=""
    line=$(grep -E '^[[:space:]]*[0-9]+ passed, [0-9]+ failed[[:space:]]*$' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        p=0 f=1
        why="exit status $rc with no \`N passed, N failed\` line"
    else
        # shellcheck disable=SC2086  # split "P passed, F failed" into words
        set -- $line
        p=$1 f=$3
        why=""
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            f=1 why="exit status $rc after reporting no failures"
        fi
    fi
    case $rc in
        124|137) why="timed out after $TIMEOUT s" ;;
        99) [ -z "$VALGRIND" ] || why="valgrind reported errors" ;;
    esac
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    if [ "$f" -eq 0 ]; then
        say "$name: $p passed, $f failed"
        [ "$VERBOSE" != 1 ] || indent <"$log"
    else
        say "$name: $p passed, $f failed${why:+ ($why)}"
        indent <"$log"
    fi
}

say "== C tests"
found=0
for t in "$BUILD"/ctest/*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    found=1
    run_ctest "$t"
done
[ "$found" = 1 ] || say "(no C tests in $BUILD/ctest)"

# --- 2, 3. busted ------------------------------------------------------------------
BUSTED=${TASKDB_BUSTED:-$(command -v busted || echo /usr/bin/busted)}
[ -x "$BUILD/taskshell" ] ||
    say "(no $BUILD/taskshell: running busted on lua5.4 with $BUILD/taskdb.so)"

# Show `not ok` lines with their `#` diagnostics and anything that is not
# TAP (stderr, valgrind); count the rest.  Counts go to file $2.
tap_filter() {   # verbose countsfile
    awk -v verbose="$1" -v counts="$2" '
        function show(s) { print "    " s; fflush() }
        /^ok [0-9]+ - # SKIP/ { skip++; diag = 0; if (verbose == 1) show($0); next }
        /^ok [0-9]+/          { pass++; diag = 0; if (verbose == 1) show($0); next }
        /^not ok [0-9]+/      { fail++; diag = 1; show($0); next }
        /^1\.\.[0-9]+$/       { plan = 1; diag = 0; next }
        /^#/                  { if (diag || verbose == 1) show($0); next }
                              { show($0) }
        END { printf "%d %d %d %d\n", pass, fail, skip, plan > counts }'
}

run_busted() {   # label exclude-tag url via-bouncer(0|1)
    label=$1 exclude=$2 url=$3 via=$4
    log="$LOGDIR/busted-$label.tap"
    counts="$LOGDIR/.counts-$label"
    say "== busted ($label, --exclude-tags=$exclude): $url"
    if [ -x "$BUILD/taskshell" ]; then
        set -- "$BUILD/taskshell" "$BUSTED"
    else
        # Only while the host is not built: stock Lua plus the loadable module.
        set -- lua5.4 "$BUSTED" "--cpath=$BUILD/?.so" \
            "--lpath=$PROJECT/lua/?.lua;$PROJECT/lua/?/init.lua"
    fi
    # --ignore-lua: .busted pins lua5.4 for a plain `busted`; here the
    # interpreter is chosen above.
    set -- "$@" --ignore-lua --output=TAP "--exclude-tags=$exclude" "$SPECS"
    t0=$(date +%s)
    CHILD_PIDFILE="$LOGDIR/.pid"
    : >"$CHILD_PIDFILE"
    {
        # shellcheck disable=SC2086  # VALGRIND is a word list on purpose
        TASKDB_TEST_URL=$url DATABASE_URL=$url TASKDB_TEST_VIA_BOUNCER=$via \
            timeout -k 10 "$TIMEOUT" $VALGRIND "$@" </dev/null &
        echo $! >"$CHILD_PIDFILE"
        wait $!
        echo $? >"$LOGDIR/.rc-$label"
    } 2>&1 | tee "$log" | tap_filter "$VERBOSE" "$counts" &
    JOB=$!
    wait "$JOB"
    JOB="" CHILD_PIDFILE=""
    rc=$(cat "$LOGDIR/.rc-$label" 2>/dev/null) || rc=1
    read -r p f s plan <"$counts" 2>/dev/null
    p=${p:-0} f=${f:-0} s=${s:-0} plan=${plan:-0}
    why=""
    case $rc in
        124|137) f=$((f + 1)) why="timed out after $TIMEOUT s" ;;
        99) if [ -n "$VALGRIND" ]; then f=$((f + 1)) why="valgrind reported errors"; fi ;;
    esac
    if [ -n "$why" ]; then
        :
    elif [ $((p + f + s)) -eq 0 ]; then
        f=1 why="no TAP output, exit status $rc"
    elif [ "$plan" -eq 0 ]; then
        f=$((f + 1)) why="did not finish (no TAP plan), exit status $rc"
    elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1 why="exit status $rc with every test passing"
    fi
    [ -z "$why" ] || tail -n 20 "$log" | indent
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    SKIPPED=$((SKIPPED + s))
    skipped=""
    [ "$s" -eq 0 ] || skipped=", $s skipped"
    say "busted ($label): $p passed, $f failed$skipped${why:+ ($why)}" \
        "[$(($(date +%s) - t0)) s, log: ${LOGS#"$PROJECT"/}/${log##*/}]"
}

run_busted direct bouncer_only "$TASKDB_TEST_DIRECT_URL" 0
run_busted bouncer direct_only "$TASKDB_TEST_BOUNCER_URL" 1

finish
