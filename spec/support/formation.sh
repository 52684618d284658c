# spec/support/formation.sh -- a real pg_auto_failover formation for the specs.
#
# Sourced (POSIX sh) after spec/support/testenv.sh, once testenv_start has
# run: it lives in $TASKDB_TEST_DIR/fm and uses testenv's helpers (free
# ports, liveness) and scripts/pgenv.sh (running as `postgres` under root).
# Defines functions only.
#
#   formation_wanted SPECS  true when a spec under SPECS uses the formation
#   formation_start         start it; returns once node1 is primary and node2
#                           its secondary
#   formation_stop          stop everything it started; idempotent
#   formation_ctl CMD ...   what spec/support/formation.lua runs (see there)
#
# The formation: a monitor and two Postgres nodes (node1, node2) from the
# Debian packages pg-auto-failover-cli and postgresql-15-auto-failover, on
# 127.0.0.1 only, trust authentication, no TLS, database taskdb_test, user
# postgres.  Replication is synchronous, as pg_auto_failover sets it up.  The
# monitor's health checks are tightened so that a dead primary is replaced in
# seconds instead of about a minute.  Each keeper (`pg_autoctl run`) runs in a
# session of its own, so a crash can take a whole node down at once.
#
# formation_start exports:
#   TASKDB_TEST_FORMATION_URL          the formation's multi-host URL
#                                      (target_session_attrs=read-write)
#   TASKDB_TEST_FORMATION_MONITOR_URL  the monitor (user autoctl_node)
#   TASKDB_TEST_FORMATION_MONITOR_PORT
#   TASKDB_TEST_FORMATION_NODE1_PORT, TASKDB_TEST_FORMATION_NODE1_URL
#   TASKDB_TEST_FORMATION_NODE2_PORT, TASKDB_TEST_FORMATION_NODE2_URL
#                                      each node alone, whatever its role
#   TASKDB_TEST_FORMATION_DIR, TASKDB_TEST_FORMATION_SOCKDIR
#   TASKDB_TEST_FORMATION_SH           this file

# pg_autoctl keeps its state and configuration under the XDG directories:
# they point into the formation's directory, so nothing lands in ~postgres and
# two runs never see each other.  PGHOST must be the sockets' directory: the
# keepers reach their own Postgres through it.
_fm_run() {
    pgenv_run_as postgres env \
        XDG_CONFIG_HOME="$TASKDB_TEST_FORMATION_DIR/xdg/config" \
        XDG_DATA_HOME="$TASKDB_TEST_FORMATION_DIR/xdg/data" \
        XDG_RUNTIME_DIR="$TASKDB_TEST_FORMATION_DIR/xdg/run" \
        PGHOST="$TASKDB_TEST_FORMATION_SOCKDIR" \
        PATH="$TASKDB_TEST_PGBIN:/usr/bin:/bin" \
        "$@"
}

_fm_pgdata() { echo "$TASKDB_TEST_FORMATION_DIR/$1"; }

_fm_port() {
    case $1 in
        monitor) echo "$TASKDB_TEST_FORMATION_MONITOR_PORT" ;;
        node1) echo "$TASKDB_TEST_FORMATION_NODE1_PORT" ;;
        node2) echo "$TASKDB_TEST_FORMATION_NODE2_PORT" ;;
        *) _te_err "formation: no node '$1'"; return 1 ;;
    esac
}

# The keeper's pid, from its pid file (first line), if it is alive.
_fm_keeper_pid() {
    _fm_p=$(head -n 1 "$TASKDB_TEST_FORMATION_DIR/xdg/run/pg_autoctl$(_fm_pgdata "$1")/pg_autoctl.pid" \
        2>/dev/null)
    _te_alive "$_fm_p" && echo "$_fm_p"
}

_fm_postmaster_pid() {
    _fm_p=$(head -n 1 "$(_fm_pgdata "$1")/postmaster.pid" 2>/dev/null)
    _te_alive "$_fm_p" && echo "$_fm_p"
}

# Kills a node's session (its keeper, the keeper's services, Postgres and
# its backends: one process group), but only if it still holds processes of
# this formation: a session id is never reused while any member lives.
_fm_kill_session() {   # sid (= the keeper's pid = its process group)
    [ -n "${1:-}" ] || return 0
    if pgrep -s "$1" -f "$TASKDB_TEST_FORMATION_DIR/" >/dev/null 2>&1; then
        kill -s KILL -- "-$1" 2>/dev/null
    fi
    return 0
}

# SQL on a node (or the monitor) as postgres over the socket.  $1 node,
# $2 database, $3 SQL.
_fm_psql() {
    "$TASKDB_TEST_PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$TASKDB_TEST_FORMATION_SOCKDIR" \
        -p "$(_fm_port "$1")" -U postgres -d "$2" -c "$3"
}

# "name reported assigned" per node, from the monitor's own table.
_fm_states() {
    _fm_psql monitor pg_auto_failover \
        "SELECT nodename || ' ' || reportedstate || ' ' || goalstate FROM pgautofailover.node ORDER BY nodeid"
}

# Waits until the monitor's states are exactly $2 (lines as _fm_states
# prints them) or $1 seconds pass.
_fm_wait_states() {   # seconds expected
    _fm_deadline=$(($(date +%s) + $1))
    while :; do
        _fm_now=$(_fm_states 2>/dev/null)
        [ "$_fm_now" = "$2" ] && return 0
        if [ "$(date +%s)" -ge "$_fm_deadline" ]; then
            _te_err "formation: after $1 s the states are:"
            echo "$_fm_now" >&2
            _te_err "formation: expected:"
            echo "$2" >&2
            return 1
        fi
        _te_sleep 0.2
    done
}

# Waits until every node reports the state it was assigned.
_fm_wait_settled() {   # seconds
    _fm_deadline=$(($(date +%s) + $1))
    until _fm_states 2>/dev/null | awk '$2 != $3 { bad = 1 } END { exit bad || NR == 0 }'; do
        if [ "$(date +%s)" -ge "$_fm_deadline" ]; then
            _te_err "formation: not settled after $1 s:"
            _fm_states >&2
            return 1
        fi
        _te_sleep 0.2
    done
}

# A keeper takes a System V semaphore (its pid file's fifth line) and
# removes it only when it exits by itself: a killed one's is noted, for
# formation_stop to remove.
_fm_note_semaphore() {   # node
    sed -n '5{/^[0-9][0-9]*$/p;}' \
        "$TASKDB_TEST_FORMATION_DIR/xdg/run/pg_autoctl$(_fm_pgdata "$1")/pg_autoctl.pid" \
        >>"$TASKDB_TEST_FORMATION_DIR/semaphores" 2>/dev/null
}

# Waits until every process of the node's last run is reaped, not just
# dead: pg_autoctl and Postgres refuse to start while a pid in their pid
# files still exists, and a killed node's orphans are zombies until PID 1
# reaps them (some container inits take seconds).
_fm_wait_reaped() {   # node
    _fm_d=$(_fm_pgdata "$1")
    # The keeper's pid file: its pid first, then "pid service" lines.
    _fm_pids=$( (sed -n -e '1{/^[0-9][0-9]*$/p;}' -e 's/^\([0-9][0-9]*\) [a-z-]*$/\1/p' \
        "$TASKDB_TEST_FORMATION_DIR/xdg/run/pg_autoctl$_fm_d/pg_autoctl.pid"
        head -n 1 "$_fm_d/postmaster.pid") 2>/dev/null)
    _fm_i=0
    for _fm_p in $_fm_pids; do
        while kill -0 "$_fm_p" 2>/dev/null && ! _te_alive "$_fm_p"; do
            _fm_i=$((_fm_i + 1))
            [ "$_fm_i" -lt 300 ] || return 0   # let pg_autoctl say what is wrong
            _te_sleep 0.1
        done
    done
}

# Starts a node's keeper in a session of its own (so that `crash` can kill
# the whole node) and returns at once; the keeper starts Postgres.
_fm_keeper_start() {   # node
    _fm_wait_reaped "$1"
    _fm_run setsid -f pg_autoctl run --pgdata "$(_fm_pgdata "$1")" \
        </dev/null >>"$TASKDB_TEST_FORMATION_DIR/$1.log" 2>&1 || return 1
    _fm_i=0
    until _fm_p=$(_fm_keeper_pid "$1"); do
        _fm_i=$((_fm_i + 1))
        if [ "$_fm_i" -ge 100 ]; then
            _te_err "formation: the keeper of $1 did not start; last lines of its log:"
            tail -n 20 "$TASKDB_TEST_FORMATION_DIR/$1.log" >&2
            return 1
        fi
        _te_sleep 0.1
    done
    echo "$_fm_p" >>"$TASKDB_TEST_FORMATION_DIR/sessions"
}

# Waits until neither the node's keeper nor its postmaster is alive.
_fm_wait_down() {   # node seconds
    _fm_i=0
    while _fm_keeper_pid "$1" >/dev/null || _fm_postmaster_pid "$1" >/dev/null; do
        _fm_i=$((_fm_i + 1))
        [ "$_fm_i" -lt $(($2 * 10)) ] || return 1
        _te_sleep 0.1
    done
}

# An initdb'd data directory with what differs from the defaults.  initdb
# first: pg_autoctl would size shared_buffers at a quarter of the machine's
# memory.  These lines come after pg_autoctl's own include (which it puts
# first), so they win.
_fm_initdb() {   # node [extra postgresql.conf lines]
    _fm_d=$(_fm_pgdata "$1")
    pgenv_initdb postgres "$TASKDB_TEST_PGBIN" "$_fm_d" \
        "$TASKDB_TEST_FORMATION_DIR/$1.initdb.log" -N ||
        { _te_err "formation: initdb of $1 failed"; return 1; }
    # fsync off: a killed process loses nothing the kernel already holds,
    # and the machine is shared.
    pgenv_run_as postgres sh -c "cat >>'$_fm_d/postgresql.conf'" <<EOF || return 1

# taskshell test formation
listen_addresses = '127.0.0.1'
unix_socket_directories = '$TASKDB_TEST_FORMATION_SOCKDIR'
shared_buffers = 16MB
max_connections = 50
fsync = off
log_min_messages = warning
${2:-}
EOF
}

formation_wanted() {   # specs (a file or a directory)
    grep -rqsF --include='*_spec.lua' 'spec.support.formation' "$1"
}

formation_start() {
    if [ -z "${TASKDB_TEST_DIR:-}" ] || [ ! -d "$TASKDB_TEST_DIR" ]; then
        _te_err "formation: no test environment (run testenv_start first)"
        return 1
    fi
    command -v pg_autoctl >/dev/null 2>&1 ||
        { _te_err "formation: pg_autoctl not found (run sh scripts/deps.sh)"; return 1; }
    TASKDB_TEST_FORMATION_DIR="$TASKDB_TEST_DIR/fm"
    TASKDB_TEST_FORMATION_SOCKDIR="$TASKDB_TEST_FORMATION_DIR/sock"
    TASKDB_TEST_FORMATION_SH="$TASKDB_PROJECT_DIR/spec/support/formation.sh"
    export TASKDB_TEST_FORMATION_DIR TASKDB_TEST_FORMATION_SOCKDIR TASKDB_TEST_FORMATION_SH
    _fm_started=1
    mkdir -p "$TASKDB_TEST_FORMATION_SOCKDIR" "$TASKDB_TEST_FORMATION_DIR/xdg/config" \
        "$TASKDB_TEST_FORMATION_DIR/xdg/data" "$TASKDB_TEST_FORMATION_DIR/xdg/run" || return 1
    : >"$TASKDB_TEST_FORMATION_DIR/sessions"
    : >"$TASKDB_TEST_FORMATION_DIR/semaphores"
    [ "$(id -u)" -ne 0 ] || chown -R postgres: "$TASKDB_TEST_FORMATION_DIR"

    # Three distinct ports; pg_autoctl gives no second chance at a taken one.
    _fm_taken=" ${TASKDB_TEST_PGPORT:-} ${TASKDB_TEST_BOUNCER_PORT:-} ${TASKDB_TEST_HANG_PORT:-} "
    for _fm_v in MONITOR NODE1 NODE2; do
        while :; do
            _fm_p=$(_te_free_port) || return 1
            case $_fm_taken in *" $_fm_p "*) continue ;; esac
            break
        done
        _fm_taken="$_fm_taken$_fm_p "
        eval "TASKDB_TEST_FORMATION_${_fm_v}_PORT=$_fm_p"
    done
    export TASKDB_TEST_FORMATION_MONITOR_PORT TASKDB_TEST_FORMATION_NODE1_PORT \
        TASKDB_TEST_FORMATION_NODE2_PORT
    _fm_common="--hostname 127.0.0.1 --auth trust --no-ssl --pgctl $TASKDB_TEST_PGBIN/pg_ctl"

    # The monitor.  A node is declared unhealthy once its keeper has been
    # silent for 3 s and a health check (every second; a dead node refuses
    # at once) failed twice, and the promotion does not wait 30 s for the
    # old primary to demote itself.  A crashed primary is replaced in about
    # 5 s instead of a minute.
    _fm_initdb monitor "shared_preload_libraries = 'pgautofailover'
pgautofailover.health_check_period = 1000
pgautofailover.health_check_timeout = 2000
pgautofailover.health_check_max_retries = 1
pgautofailover.health_check_retry_delay = 500
pgautofailover.node_considered_unhealthy_timeout = 3000
pgautofailover.primary_demote_timeout = 2000" || return 1
    # shellcheck disable=SC2086  # _fm_common is a word list
    _fm_run pg_autoctl create monitor --pgdata "$(_fm_pgdata monitor)" \
        --pgport "$TASKDB_TEST_FORMATION_MONITOR_PORT" $_fm_common \
        >>"$TASKDB_TEST_FORMATION_DIR/monitor.log" 2>&1 || {
        tail -n 20 "$TASKDB_TEST_FORMATION_DIR/monitor.log" >&2
        _te_err "formation: pg_autoctl create monitor failed"
        return 1
    }
    # The monitor has no --listen; its keeper would listen on every address.
    _fm_run pg_autoctl config set --pgdata "$(_fm_pgdata monitor)" \
        postgresql.listen_addresses 127.0.0.1 >/dev/null || return 1
    _fm_keeper_start monitor || return 1
    TASKDB_TEST_FORMATION_MONITOR_URL="postgres://autoctl_node@127.0.0.1:$TASKDB_TEST_FORMATION_MONITOR_PORT/pg_auto_failover?sslmode=disable"
    export TASKDB_TEST_FORMATION_MONITOR_URL
    _fm_i=0
    until _fm_psql monitor pg_auto_failover 'SELECT 1' >/dev/null 2>&1; do
        _fm_i=$((_fm_i + 1))
        [ "$_fm_i" -lt 300 ] || { _te_err "formation: the monitor did not come up"; return 1; }
        _te_sleep 0.1
    done

    # node1 on its own initdb'd directory; node2 is a base backup of node1,
    # made by its keeper.
    _fm_initdb node1 || return 1
    for _fm_n in node1 node2; do
        # shellcheck disable=SC2086  # _fm_common is a word list
        _fm_run pg_autoctl create postgres --pgdata "$(_fm_pgdata "$_fm_n")" \
            --pgport "$(_fm_port "$_fm_n")" --listen 127.0.0.1 --name "$_fm_n" \
            --username postgres --dbname "$TASKDB_TEST_DB" \
            --monitor "$TASKDB_TEST_FORMATION_MONITOR_URL" $_fm_common \
            >>"$TASKDB_TEST_FORMATION_DIR/$_fm_n.log" 2>&1 || {
            tail -n 20 "$TASKDB_TEST_FORMATION_DIR/$_fm_n.log" >&2
            _te_err "formation: pg_autoctl create postgres ($_fm_n) failed"
            return 1
        }
        _fm_keeper_start "$_fm_n" || return 1
        if [ "$_fm_n" = node1 ]; then
            _fm_wait_states 60 "node1 single single" || return 1
        fi
    done
    _fm_wait_states 120 "node1 primary primary
node2 secondary secondary" || return 1

    # The formation's own URL; the user is named because the URL has none
    # and the client's login name (root, say) is no role here.
    _fm_uri=$(_fm_run pg_autoctl show uri --pgdata "$(_fm_pgdata monitor)" --formation default) ||
        { _te_err "formation: pg_autoctl show uri failed"; return 1; }
    TASKDB_TEST_FORMATION_URL="$_fm_uri&user=postgres"
    for _fm_v in NODE1 NODE2; do
        eval "_fm_p=\$TASKDB_TEST_FORMATION_${_fm_v}_PORT"
        eval "TASKDB_TEST_FORMATION_${_fm_v}_URL=\"postgresql://127.0.0.1:$_fm_p/$TASKDB_TEST_DB?user=postgres&sslmode=disable\""
    done
    export TASKDB_TEST_FORMATION_URL TASKDB_TEST_FORMATION_NODE1_URL \
        TASKDB_TEST_FORMATION_NODE2_URL
    return 0
}

# Stops the keepers (immediate: the data is about to be deleted), then
# kills whatever is left of every session any keeper ever ran in.
formation_stop() {
    [ -n "${_fm_started:-}" ] || return 0
    _fm_started=''
    [ -d "${TASKDB_TEST_FORMATION_DIR:-}" ] || return 0
    for _fm_n in node1 node2 monitor; do
        if _fm_keeper_pid "$_fm_n" >/dev/null; then
            _fm_run pg_autoctl stop --immediate --pgdata "$(_fm_pgdata "$_fm_n")" >/dev/null 2>&1
        fi
    done
    for _fm_n in node1 node2 monitor; do
        # A keeper still there now is killed below: its semaphore stays.
        _fm_wait_down "$_fm_n" 10 || _fm_note_semaphore "$_fm_n"
    done
    while read -r _fm_p; do
        _fm_kill_session "$_fm_p"
    done <"$TASKDB_TEST_FORMATION_DIR/sessions"
    sort -u "$TASKDB_TEST_FORMATION_DIR/semaphores" | while read -r _fm_id; do
        ipcrm -s "$_fm_id" 2>/dev/null
    done
    # A node killed with its postmaster leaves its shared memory segment
    # (keyed by the data directory's inode) behind.
    for _fm_n in node1 node2 monitor; do
        _fm_key=$(stat -c %i "$(_fm_pgdata "$_fm_n")" 2>/dev/null) || continue
        _fm_key=$(printf '0x%08x' "$_fm_key")
        ipcs -m 2>/dev/null | awk -v k="$_fm_key" '$1 == k && $6 == 0 { print $2 }' |
            while read -r _fm_id; do ipcrm -m "$_fm_id" 2>/dev/null; done
    done
    return 0
}

# formation_ctl CMD [args] -- for spec/support/formation.lua; prints the
# result on stdout; exit status 0 on success.
#   state                     pg_autoctl show state --json
#   states                    "name reported assigned" lines (from the monitor)
#   failover                  pg_autoctl perform failover (waits until done)
#   stop NODE                 stop the keeper and Postgres (fast); waits
#   start NODE                start the keeper, which starts Postgres
#   crash NODE                kill -9 the node's keeper and Postgres together
#   kill-postmaster NODE      kill -9 the postmaster alone (its keeper restarts it)
#   running NODE              exit 0 iff the node's keeper is alive
#   replication sync|async    async: no node is in the write quorum; waits
#                             until the primary applied it
#   psql NODE SQL             SQL on taskdb_test of NODE (or "monitor")
formation_ctl() {
    _fm_cmd=${1:-}
    [ $# -eq 0 ] || shift
    case $_fm_cmd in
        state)
            _fm_run pg_autoctl show state --pgdata "$(_fm_pgdata monitor)" --json
            ;;
        states)
            _fm_states
            ;;
        failover)
            _fm_run pg_autoctl perform failover --pgdata "$(_fm_pgdata monitor)" --wait 60
            ;;
        stop)
            _fm_port "$1" >/dev/null || return 1
            _fm_run pg_autoctl stop --pgdata "$(_fm_pgdata "$1")" || return 1
            _fm_wait_down "$1" 60
            ;;
        start)
            _fm_port "$1" >/dev/null || return 1
            if _fm_keeper_pid "$1" >/dev/null; then
                _te_err "formation: $1 is running"
                return 1
            fi
            _fm_keeper_start "$1"
            ;;
        crash)
            _fm_port "$1" >/dev/null || return 1
            _fm_p=$(_fm_keeper_pid "$1") || { _te_err "formation: $1 is not running"; return 1; }
            _fm_note_semaphore "$1"
            _fm_kill_session "$_fm_p"
            _fm_wait_down "$1" 10
            ;;
        kill-postmaster)
            _fm_p=$(_fm_postmaster_pid "$1") || { _te_err "formation: no postmaster for $1"; return 1; }
            kill -KILL "$_fm_p"
            ;;
        running)
            _fm_port "$1" >/dev/null || return 1
            _fm_keeper_pid "$1" >/dev/null
            ;;
        replication)
            # number_sync_standbys stays 0 (pg_auto_failover's default):
            # with no node in the write quorum, the primary's
            # synchronous_standby_names becomes empty.
            case ${1:-} in
                sync) _fm_q=true ;;
                async) _fm_q=false ;;
                *) _te_err "formation: replication sync|async"; return 1 ;;
            esac
            # One change at a time: the monitor refuses one while the
            # primary is still applying the last.
            for _fm_n in node1 node2; do
                _fm_wait_settled 60 || return 1
                _fm_psql monitor pg_auto_failover "SELECT pgautofailover.set_node_replication_quorum('default', '$_fm_n', $_fm_q)" \
                    >/dev/null || return 1
            done
            _fm_i=0
            while :; do
                _fm_p=''
                _fm_wait_settled 60 &&
                    _fm_p=$(_fm_states | awk '$2 == "primary" && $3 == "primary" { print $1 }')
                if [ -n "$_fm_p" ] &&
                    _fm_v=$(_fm_psql "$_fm_p" postgres 'SHOW synchronous_standby_names'); then
                    case $_fm_q$_fm_v in
                        false|true?*) return 0 ;;
                    esac
                fi
                _fm_i=$((_fm_i + 1))
                [ "$_fm_i" -lt 300 ] || { _te_err "formation: replication did not become $1"; return 1; }
                _te_sleep 0.2
            done
            ;;
        psql)
            if [ "$1" = monitor ]; then
                _fm_psql monitor pg_auto_failover "$2"
            else
                _fm_psql "$1" "$TASKDB_TEST_DB" "$2"
            fi
            ;;
        *)
            _te_err "formation_ctl: unknown command '$_fm_cmd'"
            return 2
            ;;
    esac
}
