#!/bin/sh
# Fault injection into the test environment, for specs (via os.execute) and
# for people poking at a run.  Needs the TASKDB_TEST_* variables that
# testenv_start exported; works as root (server commands via runuser) and not.
#
#   sh spec/support/pgctl.sh restart          fast restart; returns once ready
#   sh spec/support/pgctl.sh stop             fast shutdown
#   sh spec/support/pgctl.sh stop-immediate   crash: no shutdown checkpoint
#   sh spec/support/pgctl.sh start            start (crash recovery if needed); waits
#   sh spec/support/pgctl.sh psql "SQL"       run SQL as postgres on taskdb_test
#                                             over the socket; prints unaligned,
#                                             tuples-only output; exit 1 on error
#   sh spec/support/pgctl.sh terminate-all    pg_terminate_backend every other
#                                             client backend on taskdb_test (also
#                                             PgBouncer's server connections);
#                                             prints how many, returns once gone
#   sh spec/support/pgctl.sh bouncer-restart  kill and restart PgBouncer (same port)
#   sh spec/support/pgctl.sh bouncer-stop     stop PgBouncer
#   sh spec/support/pgctl.sh bouncer-start    start it again
#   sh spec/support/pgctl.sh status           exit 0 if PostgreSQL answers
#
# Exit status 0 on success; messages go to stderr.
set -u

if [ -z "${TASKDB_TEST_DIR:-}" ] || [ -z "${TASKDB_TEST_PGDATA:-}" ]; then
    echo "pgctl: no test environment (TASKDB_TEST_* unset); run via spec/run.sh" >&2
    exit 2
fi
TASKDB_PROJECT_DIR=${TASKDB_PROJECT_DIR:-$(CDPATH='' cd -- "$(dirname -- "$0")/../.." && pwd -P)}
. "$TASKDB_PROJECT_DIR/spec/support/testenv.sh"

LOG="$TASKDB_TEST_DIR/pg.log"

case ${1:-} in
    restart)
        _te_pg_ctl restart -m fast -w -t 60 -s -l "$LOG" >/dev/null 2>&1 ||
            { _te_pg_log_tail; echo "pgctl: restart failed" >&2; exit 1; }
        _te_pg_wait_ready
        ;;
    stop)
        _te_pg_ctl stop -m fast -w -t 60 -s ||
            { echo "pgctl: stop failed" >&2; exit 1; }
        ;;
    stop-immediate)
        _te_pg_ctl stop -m immediate -w -t 60 -s ||
            { echo "pgctl: stop -m immediate failed" >&2; exit 1; }
        ;;
    start)
        testenv_pg_start
        ;;
    psql)
        [ $# -eq 2 ] || { echo "usage: pgctl.sh psql \"SQL\"" >&2; exit 2; }
        _te_psql "$TASKDB_TEST_DB" -c "$2"
        ;;
    terminate-all)
        # The timeout argument makes each call wait until that backend is gone.
        _te_psql "$TASKDB_TEST_DB" -c "SELECT count(pg_terminate_backend(pid, 5000))
            FROM pg_stat_activity
            WHERE datname = '$TASKDB_TEST_DB' AND pid <> pg_backend_pid()
              AND backend_type = 'client backend'"
        ;;
    bouncer-restart)
        testenv_bouncer_stop && testenv_bouncer_start
        ;;
    bouncer-stop)
        testenv_bouncer_stop
        ;;
    bouncer-start)
        testenv_bouncer_start
        ;;
    status)
        "$TASKDB_TEST_PGBIN/pg_isready" -q -h "$TASKDB_TEST_SOCKDIR" \
            -p "$TASKDB_TEST_PGPORT" -U postgres -d postgres
        ;;
    *)
        sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
