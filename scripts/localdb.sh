#!/bin/sh
# The private local PostgreSQL cluster behind `make run` and `make db`.
#
#   sh scripts/localdb.sh start    create (first time) and start; idempotent
#   sh scripts/localdb.sh stop     fast shutdown; data is kept
#   sh scripts/localdb.sh status   exit 0 if running, 3 if not
#   sh scripts/localdb.sh url      print the libpq URL of database `taskshell`
#
# Data lives in .taskdb/pgdata under the project and survives runs.  The
# server listens on a Unix socket only (no TCP), authenticates by trust, and
# the socket directory is private to the server's user.  PostgreSQL refuses
# to run as root, so as root the server runs as the `postgres` system user.
# Debian's own cluster (port 5432, /var/run/postgresql) is never touched.
#
# Overrides: TASKDB_PGBIN (directory holding initdb/pg_ctl).
set -eu

PROJECT=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd -P)
# shellcheck source=scripts/pgenv.sh
. "$PROJECT/scripts/pgenv.sh"
STATE="$PROJECT/.taskdb"
DBNAME=taskshell
SUPERUSER=postgres
ME=$(id -u)
# A short, stable name for this checkout, for paths outside the project.
HASH=$(printf '%08x' "$(printf %s "$PROJECT" | cksum | cut -d' ' -f1)")

die() { echo "localdb: $*" >&2; exit 1; }
note() { echo "localdb: $*" >&2; }

# --- who runs the server, and where its files go -----------------------------
owner_of() { stat -c %U -- "$1"; }

# A server-side command (initdb, pg_ctl) as the server's user; without fd 9,
# or the server would inherit the start lock and hold it forever.
as_server() { pgenv_run_as "$SERVER_USER" "$@" 9>&-; }

can_traverse() {   # can SERVER_USER reach directory $1?
    pgenv_run_as "$SERVER_USER" test -x "$1" 2>/dev/null
}

choose_layout() {
    FALLBACK="/var/tmp/taskshell-$HASH"
    BASE="$STATE"
    if [ "$ME" -eq 0 ]; then
        pgenv_need_user postgres || exit 1
        SERVER_USER=postgres
        if [ -f "$STATE/pgdata/PG_VERSION" ]; then
            # A cluster made earlier by an ordinary user stays theirs.
            SERVER_USER=$(owner_of "$STATE/pgdata")
        elif [ -f "$FALLBACK/pgdata/PG_VERSION" ]; then
            BASE="$FALLBACK"
        elif ! can_traverse "$PROJECT"; then
            BASE="$FALLBACK"
        fi
        [ "$SERVER_USER" != root ] ||
            die "$STATE/pgdata is owned by root; PostgreSQL cannot run as" \
                "root. Remove it (its data is lost) or chown it to postgres"
    else
        SERVER_USER=$(id -un)
        if [ -d "$STATE/pgdata" ] && [ "$(owner_of "$STATE/pgdata")" != "$SERVER_USER" ]; then
            die "the cluster in $STATE/pgdata belongs to user" \
                "'$(owner_of "$STATE/pgdata")' (made by a root run);" \
                "run this as root, or remove $STATE to start afresh"
        fi
    fi
    DATA="$BASE/pgdata"
    LOG="$BASE/postgres.log"
    # A Unix socket path must fit in sun_path (108 bytes); keep a margin.
    SOCK="$BASE/run"
    if [ "$(printf %s "$SOCK/.s.PGSQL.5432" | wc -c)" -ge 100 ]; then
        SOCK="/tmp/taskshell-$ME-$HASH"
    fi
    PGBIN=$(pgenv_bindir "$DATA") || exit 1
}

# mkdir that refuses a directory someone else planted in a shared /tmp.
make_private_dir() {   # dir mode
    mkdir -p -- "$1"
    if [ "$ME" -eq 0 ]; then
        case $(owner_of "$1") in
            root|"$SERVER_USER") chown "$SERVER_USER:" "$1" ;;
            *) die "$1 exists and belongs to $(owner_of "$1"); remove it" ;;
        esac
    elif [ "$(owner_of "$1")" != "$SERVER_USER" ]; then
        die "$1 exists and belongs to $(owner_of "$1"); remove it"
    fi
    chmod "$2" "$1"
}

# --- helpers over the running server -----------------------------------------
is_running() {
    [ -f "$DATA/PG_VERSION" ] &&
        as_server "$PGBIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

psql_admin() {   # SQL -> unaligned output, as the superuser on `postgres`
    "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$SOCK" -U "$SUPERUSER" \
        -d postgres -c "$1"
}

# Percent-encode a value for a URI query string (paths may hold spaces).
urlencode() {
    case $1 in
        *[!A-Za-z0-9/._~-]*) ;;
        *) printf %s "$1"; return ;;
    esac
    printf %s "$1" | od -An -v -tx1 | tr ' ' '\n' | while read -r h; do
        [ -n "$h" ] || continue
        case $h in
            2d|2e|2f|3[0-9]|4[1-9a-f]|5[0-9a]|5f|6[1-9a-f]|7[0-9a]|7e)
                # shellcheck disable=SC2059  # an octal escape, built on purpose
                printf "\\$(printf %03o "0x$h")" ;;
            *) printf %%%s "$h" ;;
        esac
    done
}

# --- commands ------------------------------------------------------------------
init_cluster() {
    if [ -d "$DATA" ] && [ -n "$(ls -A "$DATA" 2>/dev/null)" ]; then
        die "$DATA exists but holds no cluster; move it away and retry"
    fi
    make_private_dir "$DATA" 700
    if ! pgenv_initdb "$SERVER_USER" "$PGBIN" "$DATA" "$LOG" 9>&-; then
        rm -rf -- "$DATA"
        die "could not create the cluster in $DATA"
    fi
    echo "include_if_exists = 'taskshell.conf'" >>"$DATA/postgresql.conf"
    note "created a PostgreSQL $(cat "$DATA/PG_VERSION") cluster in $DATA"
}

# Rewritten on every start, so a moved checkout gets its new socket path.
write_conf() {
    sock_conf=$(printf %s "$SOCK" | sed "s/'/''/g")
    cat >"$DATA/taskshell.conf" <<EOF
# Written by scripts/localdb.sh on every start; put your own settings in
# postgresql.conf.  Unix socket only: no TCP listener at all.
listen_addresses = ''
unix_socket_directories = '$sock_conf'
unix_socket_permissions = 0700
EOF
    [ "$ME" -ne 0 ] || chown "$SERVER_USER:" "$DATA/taskshell.conf"
}

cmd_start() {
    if [ "$BASE" = "$STATE" ]; then
        mkdir -p -- "$STATE"
        chmod 755 "$STATE"   # the server user must traverse it under root
    else
        make_private_dir "$BASE" 755
        [ -f "$DATA/PG_VERSION" ] ||
            note "the '$SERVER_USER' user cannot reach $PROJECT, so the" \
                 "cluster lives in $BASE instead"
    fi
    # Serialize concurrent starts (two `make run`s racing to initdb).
    if command -v flock >/dev/null 2>&1; then
        exec 9>>"$BASE/.lock"
        flock 9
    fi
    # Keep the log from growing without bound across months of runs.
    if [ -f "$LOG" ] && [ "$(wc -c <"$LOG")" -gt 10485760 ]; then
        mv -f -- "$LOG" "$LOG.old"
    fi
    touch "$LOG"
    [ "$ME" -ne 0 ] || chown "$SERVER_USER:" "$LOG"

    [ -f "$DATA/PG_VERSION" ] || init_cluster
    make_private_dir "$SOCK" 700

    if ! is_running; then
        write_conf
        if ! as_server "$PGBIN/pg_ctl" start -D "$DATA" -l "$LOG" -w -t 60 -s \
                >/dev/null 2>&1; then
            tail -n 20 "$LOG" >&2
            die "the server did not start (full log: $LOG)"
        fi
        note "started PostgreSQL $(cat "$DATA/PG_VERSION") (socket $SOCK, log $LOG)"
    fi
    pgenv_wait_ready "$PGBIN" "$SOCK" 5432 10 ||
        die "the server runs but does not answer on $SOCK; try" \
            "'sh scripts/localdb.sh stop' then start (log: $LOG)"

    exists=$(psql_admin "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'") ||
        die "cannot query the server on $SOCK (log: $LOG)"
    if [ -z "$exists" ]; then
        psql_admin "CREATE DATABASE $DBNAME ENCODING 'UTF8' TEMPLATE template0" ||
            die "could not create database $DBNAME"
        note "created database $DBNAME"
    fi
}

cmd_stop() {
    if is_running; then
        as_server "$PGBIN/pg_ctl" stop -D "$DATA" -m fast -w -t 60 -s ||
            die "pg_ctl stop failed (log: $LOG)"
        note "stopped"
    else
        note "not running"
    fi
}

cmd_status() {
    if [ ! -f "$DATA/PG_VERSION" ]; then
        echo "no cluster yet (it will be created in $DATA by 'start')"
        return 3
    fi
    [ "$BASE" = "$STATE" ] ||
        echo "note: data is in $BASE because '$SERVER_USER' cannot reach $PROJECT"
    if is_running; then
        echo "running: pid $(head -n 1 "$DATA/postmaster.pid"), data $DATA," \
             "socket $SOCK, log $LOG"
    else
        echo "stopped: data $DATA, log $LOG"
        return 3
    fi
}

cmd_url() {
    echo "postgresql:///$DBNAME?host=$(urlencode "$SOCK")&user=$SUPERUSER"
}

case ${1:-} in
    start|stop|status|url) ;;
    *) echo "usage: sh scripts/localdb.sh start|stop|status|url" >&2; exit 2 ;;
esac
choose_layout
case $1 in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    url) cmd_url ;;
esac
