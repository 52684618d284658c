# spec/support/testenv.sh -- a private, throw-away test environment.
#
# Sourced (POSIX sh) by spec/run.sh, bench scripts and spec/support/pgctl.sh.
# Defines functions only; sourcing starts nothing.
#
#   . spec/support/testenv.sh
#   trap testenv_stop EXIT
#   testenv_start [pg] [bouncer] [hangd]   # no arguments: all three
#
# Everything lives in one `mktemp -d` directory (owned by `postgres` when run
# as root, since PostgreSQL and PgBouncer refuse to run as root):
#   - PostgreSQL on its own Unix socket and on 127.0.0.1:<free port>, TLS on
#     (a CA and a localhost/127.0.0.1 server certificate made here), socket
#     trust, TCP scram-sha-256 with or without TLS; role taskdb_pw (superuser,
#     password) owns the scratch database taskdb_test.
#   - PgBouncer in transaction pooling, one server connection per pool,
#     forwarding taskdb_test over the cluster's socket.
#   - hangd: accepts TCP connections and never answers.
# It exports TASKDB_TEST_* (see testenv_start) and removes every libpq PG*
# variable from the environment, so a developer's PGHOST, PGPASSWORD or
# ~/.pgpass cannot leak into a test.  testenv_stop kills what was started and
# removes the directory; it is idempotent and safe on a half-started run.
#
# Inputs: TASKDB_PROJECT_DIR (default: cwd), TASKDB_BUILD (default: build;
# hangd is $TASKDB_BUILD/hangd, compiled here if absent), TASKDB_PGBIN.

# shellcheck source=scripts/pgenv.sh
. "${TASKDB_PROJECT_DIR:-$(pwd -P)}/scripts/pgenv.sh"

TASKDB_TEST_USER=taskdb_pw
TASKDB_TEST_PASSWORD=pw-Secr3t-value
TASKDB_TEST_DB=taskdb_test

# --- small helpers -------------------------------------------------------------
_te_err() { echo "testenv: $*" >&2; }

_te_pgbouncer() {
    if command -v pgbouncer >/dev/null 2>&1; then
        command -v pgbouncer
    elif [ -x /usr/sbin/pgbouncer ]; then
        echo /usr/sbin/pgbouncer
    else
        _te_err "pgbouncer not found (run sh scripts/deps.sh)"
        return 1
    fi
}

# A random port outside Linux's ephemeral range (32768+), so outgoing
# connections rarely hold it; callers still retry if the bind fails.
_te_free_port() {
    _te_i=0
    while [ "$_te_i" -lt 100 ]; do
        _te_i=$((_te_i + 1))
        _te_p=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 12000))
        if command -v ss >/dev/null 2>&1 &&
            ss -Hltn "sport = :$_te_p" 2>/dev/null | grep -q .; then
            continue
        fi
        echo "$_te_p"
        return 0
    done
    _te_err "no free TCP port found"
    return 1
}

_te_sleep() { sleep "$1" 2>/dev/null || sleep 1; }

# A zombie counts as dead: daemons are reparented to PID 1, which in some
# containers reaps late or never.
_te_alive() {
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
    [ -r "/proc/$1/stat" ] || return 0
    case $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) in
        Z|X|'') return 1 ;;
    esac
    return 0
}

# SQL as postgres over the socket; unaligned, tuples only.  $1 = database.
_te_psql() {
    "$TASKDB_TEST_PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
        -h "$TASKDB_TEST_SOCKDIR" -p "$TASKDB_TEST_PGPORT" -U postgres -d "$@"
}

_te_unset_libpq_env() {
    for _te_v in PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD \
        PGSERVICE PGSERVICEFILE PGSYSCONFDIR PGOPTIONS PGAPPNAME \
        PGSSLMODE PGREQUIRESSL PGSSLCERT PGSSLKEY PGSSLROOTCERT PGSSLCRL \
        PGSSLCRLDIR PGSSLSNI PGSSLCOMPRESSION PGSSLMINPROTOCOLVERSION \
        PGSSLMAXPROTOCOLVERSION PGGSSENCMODE PGGSSLIB PGKRBSRVNAME \
        PGREQUIREPEER PGREQUIREAUTH PGSSLNEGOTIATION PGCHANNELBINDING \
        PGCONNECT_TIMEOUT PGCLIENTENCODING PGTARGETSESSIONATTRS \
        PGLOADBALANCEHOSTS PGTZ PGDATESTYLE PGGEQO PGDATA; do
        unset "$_te_v"
    done
    # A file that never exists: no ~/.pgpass can rescue a wrong password.
    export PGPASSFILE=/nonexistent/taskdb-no-pgpass
}

# --- TLS: a throw-away CA and a server certificate it signed ---------------------
_te_make_tls() {
    _te_tls="$TASKDB_TEST_DIR/tls"
    mkdir -p "$_te_tls" || return 1
    cat >"$_te_tls/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = taskshell test CA
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[srv_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
    # EC keys: generated in milliseconds, unlike RSA.
    (
        cd "$_te_tls" &&
        openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
            -nodes -keyout ca.key -out ca.crt -days 7 -config openssl.cnf \
            -extensions ca_ext -subj "/CN=taskshell test CA" &&
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
            -nodes -keyout server.key -out server.csr -config openssl.cnf \
            -subj "/CN=localhost" &&
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key \
            -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
            -days 7 -extfile openssl.cnf -extensions srv_ext -out server.crt &&
        chmod 600 ca.key server.key && chmod 644 ca.crt server.crt
    ) >"$_te_tls/openssl.log" 2>&1 || {
        cat "$_te_tls/openssl.log" >&2
        _te_err "could not make the test certificates"
        return 1
    }
    TASKDB_TEST_TLS_CA="$_te_tls/ca.crt"
}

# --- PostgreSQL --------------------------------------------------------------------
_te_pg_ctl() {
    pgenv_run_as postgres "$TASKDB_TEST_PGBIN/pg_ctl" -D "$TASKDB_TEST_PGDATA" "$@"
}

# Everything that differs from initdb's defaults, including the port, which
# is rewritten on each start attempt.
_te_pg_write_conf() {
    cat >"$TASKDB_TEST_PGDATA/taskshell.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $TASKDB_TEST_PGPORT
unix_socket_directories = '$TASKDB_TEST_SOCKDIR'
unix_socket_permissions = 0777
max_connections = 100
ssl = on
ssl_cert_file = '$TASKDB_TEST_DIR/tls/server.crt'
ssl_key_file = '$TASKDB_TEST_DIR/tls/server.key'
password_encryption = 'scram-sha-256'
log_min_messages = warning
EOF
    cat >"$TASKDB_TEST_PGDATA/pg_hba.conf" <<'EOF'
# TYPE    DATABASE USER ADDRESS      METHOD
local     all      all               trust
hostssl   all      all  127.0.0.1/32 scram-sha-256
hostnossl all      all  127.0.0.1/32 scram-sha-256
EOF
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$TASKDB_TEST_PGDATA/taskshell.conf" \
            "$TASKDB_TEST_PGDATA/pg_hba.conf"
    fi
}

_te_pg_wait_ready() {
    pgenv_wait_ready "$TASKDB_TEST_PGBIN" "$TASKDB_TEST_SOCKDIR" "$TASKDB_TEST_PGPORT" 30 ||
        { _te_err "PostgreSQL not ready after 30 s"; return 1; }
}

_te_pg_log_tail() {
    _te_err "last lines of $TASKDB_TEST_DIR/pg.log:"
    tail -n 15 "$TASKDB_TEST_DIR/pg.log" >&2 2>/dev/null
}

# Start an existing cluster on its configured port (used by pgctl.sh too).
testenv_pg_start() {
    _te_pg_ctl start -w -t 60 -s -l "$TASKDB_TEST_DIR/pg.log" >/dev/null 2>&1 ||
        { _te_pg_log_tail; _te_err "PostgreSQL did not start"; return 1; }
    _te_pg_wait_ready
}

_te_pg_create() {
    # -N: no fsync of the initial files; this cluster is thrown away.
    pgenv_initdb postgres "$TASKDB_TEST_PGBIN" "$TASKDB_TEST_PGDATA" \
        "$TASKDB_TEST_DIR/initdb.log" -N || return 1
    echo "include 'taskshell.conf'" >>"$TASKDB_TEST_PGDATA/postgresql.conf"

    # A random port may be taken between the check and the bind: retry.
    _te_try=0
    while :; do
        _te_try=$((_te_try + 1))
        TASKDB_TEST_PGPORT=$(_te_free_port) || return 1
        _te_pg_write_conf || return 1
        if _te_pg_ctl start -w -t 60 -s -l "$TASKDB_TEST_DIR/pg.log" \
            >/dev/null 2>&1; then
            break
        fi
        if [ "$_te_try" -lt 5 ] &&
            grep -q 'could not bind\|could not create any TCP/IP' \
                "$TASKDB_TEST_DIR/pg.log" 2>/dev/null; then
            : >"$TASKDB_TEST_DIR/pg.log"
            continue
        fi
        _te_pg_log_tail
        _te_err "PostgreSQL did not start"
        return 1
    done
    _te_pg_wait_ready || return 1

    # taskdb_pw is a superuser so that either role can use the tables the
    # other created; it owns the scratch database (and so schema public).
    _te_psql postgres >/dev/null <<EOF || { _te_err "could not create the test role and database"; return 1; }
CREATE ROLE $TASKDB_TEST_USER LOGIN SUPERUSER PASSWORD '$TASKDB_TEST_PASSWORD';
CREATE DATABASE $TASKDB_TEST_DB OWNER $TASKDB_TEST_USER ENCODING 'UTF8' TEMPLATE template0;
\connect $TASKDB_TEST_DB
GRANT ALL ON SCHEMA public TO $TASKDB_TEST_USER;
EOF
}

# --- PgBouncer -----------------------------------------------------------------
_te_bouncer_write_conf() {
    _te_b="$TASKDB_TEST_DIR/bouncer"
    # trust still wants every user name listed in auth_file.
    cat >"$_te_b/userlist.txt" <<EOF
"postgres" ""
"$TASKDB_TEST_USER" "$TASKDB_TEST_PASSWORD"
EOF
    # server_login_retry: after a cluster restart, reconnect within a second
    # instead of the default 15.  server_reset_query is empty: transaction
    # pooling never runs it, and a session-mode reset would hide state leaks.
    cat >"$_te_b/pgbouncer.ini" <<EOF
[databases]
$TASKDB_TEST_DB = host=$TASKDB_TEST_SOCKDIR port=$TASKDB_TEST_PGPORT dbname=$TASKDB_TEST_DB

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $TASKDB_TEST_BOUNCER_PORT
unix_socket_dir = $TASKDB_TEST_BOUNCER_SOCKDIR
unix_socket_mode = 0777
auth_type = trust
auth_file = $_te_b/userlist.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = 1
max_client_conn = 200
ignore_startup_parameters = extra_float_digits,options
server_reset_query =
server_login_retry = 1
server_connect_timeout = 5
logfile = $_te_b/pgbouncer.log
pidfile = $_te_b/pgbouncer.pid
EOF
}

_te_bouncer_pid() {
    cat "$TASKDB_TEST_DIR/bouncer/pgbouncer.pid" 2>/dev/null
}

# Launch on the configured port and wait for a query to pass end to end.
# Returns 2 when the port was taken (the caller may pick another).
testenv_bouncer_start() {
    _te_bin=$(_te_pgbouncer) || return 1
    pgenv_run_as postgres "$_te_bin" -d -q "$TASKDB_TEST_DIR/bouncer/pgbouncer.ini" \
        >>"$TASKDB_TEST_DIR/bouncer/stderr.log" 2>&1
    _te_i=0
    until "$TASKDB_TEST_PGBIN/psql" -X -q -At -c 'SELECT 1' \
        "postgresql://postgres@127.0.0.1:$TASKDB_TEST_BOUNCER_PORT/$TASKDB_TEST_DB?connect_timeout=2" \
        >/dev/null 2>&1; do
        _te_i=$((_te_i + 1))
        if grep -q 'Address already in use' "$TASKDB_TEST_DIR/bouncer/pgbouncer.log" \
            "$TASKDB_TEST_DIR/bouncer/stderr.log" 2>/dev/null; then
            testenv_bouncer_stop
            return 2
        fi
        if [ "$_te_i" -ge 100 ]; then
            _te_err "PgBouncer did not come up; last lines of its log:"
            tail -n 15 "$TASKDB_TEST_DIR/bouncer/pgbouncer.log" \
                "$TASKDB_TEST_DIR/bouncer/stderr.log" >&2 2>/dev/null
            return 1
        fi
        _te_sleep 0.1
    done
}

# SIGTERM is PgBouncer 1.18's immediate shutdown (it still takes ~1 s);
# `testenv_bouncer_stop kill` is for teardown, where nothing is worth waiting
# for.
testenv_bouncer_stop() {
    _te_pid=$(_te_bouncer_pid)
    _te_alive "$_te_pid" || return 0
    if [ "${1:-}" = kill ]; then
        kill -KILL "$_te_pid" 2>/dev/null
    else
        kill -TERM "$_te_pid" 2>/dev/null
    fi
    _te_i=0
    while _te_alive "$_te_pid" && [ "$_te_i" -lt 50 ]; do
        _te_i=$((_te_i + 1))
        _te_sleep 0.1
    done
    _te_alive "$_te_pid" && kill -KILL "$_te_pid" 2>/dev/null
    rm -f "$TASKDB_TEST_DIR/bouncer/pgbouncer.pid"
    return 0
}

_te_bouncer_create() {
    _te_try=0
    while :; do
        _te_try=$((_te_try + 1))
        TASKDB_TEST_BOUNCER_PORT=$(_te_free_port) || return 1
        _te_bouncer_write_conf || return 1
        testenv_bouncer_start
        case $? in
            0) return 0 ;;
            2) [ "$_te_try" -lt 5 ] && continue ;;
        esac
        return 1
    done
}

# --- hangd ---------------------------------------------------------------------
_te_hangd_start() {
    _te_hangd="${TASKDB_BUILD:-build}/hangd"
    if [ ! -x "$_te_hangd" ]; then
        # Not built (e.g. a partial build): compile a private copy.
        _te_hangd="$TASKDB_TEST_DIR/hangd"
        "${CC:-cc}" -std=gnu11 -O1 -D_GNU_SOURCE -o "$_te_hangd" \
            "$TASKDB_PROJECT_DIR/spec/support/hangd.c" || {
            _te_err "no ${TASKDB_BUILD:-build}/hangd and could not compile one"
            return 1
        }
    fi
    "$_te_hangd" "$TASKDB_TEST_DIR/hangd.port" </dev/null \
        >/dev/null 2>"$TASKDB_TEST_DIR/hangd.log" &
    echo $! >"$TASKDB_TEST_DIR/hangd.pid"
    _te_i=0
    while [ ! -s "$TASKDB_TEST_DIR/hangd.port" ]; do
        _te_i=$((_te_i + 1))
        if [ "$_te_i" -ge 100 ] || ! _te_alive "$(cat "$TASKDB_TEST_DIR/hangd.pid")"; then
            cat "$TASKDB_TEST_DIR/hangd.log" >&2
            _te_err "hangd did not start"
            return 1
        fi
        _te_sleep 0.05
    done
    TASKDB_TEST_HANG_PORT=$(cat "$TASKDB_TEST_DIR/hangd.port")
    export TASKDB_TEST_HANG_PORT
}

# --- public entry points ---------------------------------------------------------
# testenv_start [pg] [bouncer] [hangd] -- no arguments: all three.  Exports:
#   TASKDB_TEST_DIR            the temp dir (everything below lives in it)
#   TASKDB_TEST_PGBIN, TASKDB_TEST_PGDATA, TASKDB_TEST_SOCKDIR,
#   TASKDB_TEST_PGPORT, TASKDB_TEST_RUN_AS ("" or "runuser -u postgres --")
#   TASKDB_TEST_URL            postgresql:///taskdb_test?host=SOCKDIR&port=PORT&user=postgres
#   TASKDB_TEST_DIRECT_URL     the same, never redirected to the pooler
#   TASKDB_TEST_TCP_URL        postgresql://taskdb_pw:PW@127.0.0.1:PORT/taskdb_test?sslmode=disable
#   TASKDB_TEST_TLS_HOST_URL   postgresql://taskdb_pw:PW@localhost:PORT/taskdb_test
#   TASKDB_TEST_TLS_CA         the CA that signed the server certificate
#   TASKDB_TEST_USER, TASKDB_TEST_PASSWORD, TASKDB_TEST_DB
#   TASKDB_TEST_BOUNCER_URL    postgresql://postgres@127.0.0.1:BPORT/taskdb_test
#   TASKDB_TEST_BOUNCER_PORT, TASKDB_TEST_BOUNCER_SOCKDIR
#   TASKDB_TEST_HANG_PORT      127.0.0.1 port of hangd
#   TASKDB_TEST_PGCTL          path of pgctl.sh (run it with sh)
testenv_start() {
    if [ -n "${_te_started:-}" ]; then
        _te_err "already started"
        return 1
    fi
    _te_pg='' _te_bouncer='' _te_hang=''
    [ $# -gt 0 ] || set -- pg bouncer hangd
    for _te_a in "$@"; do
        case $_te_a in
            pg) _te_pg=1 ;;
            bouncer) _te_pg=1 _te_bouncer=1 ;;
            hangd) _te_hang=1 ;;
            *) _te_err "unknown component '$_te_a'"; return 1 ;;
        esac
    done

    TASKDB_PROJECT_DIR=${TASKDB_PROJECT_DIR:-$(pwd -P)}
    _te_unset_libpq_env
    pgenv_need_user postgres || return 1
    TASKDB_TEST_RUN_AS=""
    [ "$(id -u)" -ne 0 ] || TASKDB_TEST_RUN_AS="runuser -u postgres --"
    TASKDB_TEST_PGBIN=$(pgenv_bindir) || return 1

    # Short, shell-safe paths: Unix socket names are limited to 107 bytes and
    # the paths are written unquoted into config files.
    _te_tmp=${TMPDIR:-/tmp}
    case $_te_tmp in
        *[!A-Za-z0-9/._-]*) _te_tmp=/tmp ;;
    esac
    [ "$(printf %s "$_te_tmp" | wc -c)" -le 40 ] || _te_tmp=/tmp
    [ "$(id -u)" -ne 0 ] || _te_tmp=/tmp   # postgres must reach it
    TASKDB_TEST_DIR=$(mktemp -d "$_te_tmp/taskdb-test.XXXXXX") ||
        { _te_err "mktemp -d failed"; return 1; }
    _te_started=1
    export TASKDB_PROJECT_DIR TASKDB_TEST_DIR TASKDB_TEST_RUN_AS \
        TASKDB_TEST_PGBIN TASKDB_TEST_USER TASKDB_TEST_PASSWORD TASKDB_TEST_DB
    export TASKDB_TEST_PGCTL="$TASKDB_PROJECT_DIR/spec/support/pgctl.sh"

    TASKDB_TEST_PGDATA="$TASKDB_TEST_DIR/pgdata"
    TASKDB_TEST_SOCKDIR="$TASKDB_TEST_DIR/sock"
    TASKDB_TEST_BOUNCER_SOCKDIR="$TASKDB_TEST_DIR/bsock"
    export TASKDB_TEST_PGDATA TASKDB_TEST_SOCKDIR TASKDB_TEST_BOUNCER_SOCKDIR
    mkdir -p "$TASKDB_TEST_SOCKDIR" "$TASKDB_TEST_BOUNCER_SOCKDIR" \
        "$TASKDB_TEST_DIR/bouncer" || return 1
    : >"$TASKDB_TEST_DIR/pg.log"
    # The directory stays mode 700 (mktemp): with trust on the socket, it is
    # what keeps other local users out.

    if [ -n "$_te_pg" ]; then
        _te_make_tls || return 1
        export TASKDB_TEST_TLS_CA
    fi
    [ "$(id -u)" -ne 0 ] || chown -R postgres: "$TASKDB_TEST_DIR"

    if [ -n "$_te_pg" ]; then
        _te_pg_create || return 1
        TASKDB_TEST_URL="postgresql:///$TASKDB_TEST_DB?host=$TASKDB_TEST_SOCKDIR&port=$TASKDB_TEST_PGPORT&user=postgres"
        TASKDB_TEST_DIRECT_URL=$TASKDB_TEST_URL
        TASKDB_TEST_TCP_URL="postgresql://$TASKDB_TEST_USER:$TASKDB_TEST_PASSWORD@127.0.0.1:$TASKDB_TEST_PGPORT/$TASKDB_TEST_DB?sslmode=disable"
        TASKDB_TEST_TLS_HOST_URL="postgresql://$TASKDB_TEST_USER:$TASKDB_TEST_PASSWORD@localhost:$TASKDB_TEST_PGPORT/$TASKDB_TEST_DB"
        export TASKDB_TEST_PGPORT TASKDB_TEST_URL TASKDB_TEST_DIRECT_URL \
            TASKDB_TEST_TCP_URL TASKDB_TEST_TLS_HOST_URL
    fi
    if [ -n "$_te_bouncer" ]; then
        _te_bouncer_create || return 1
        TASKDB_TEST_BOUNCER_URL="postgresql://postgres@127.0.0.1:$TASKDB_TEST_BOUNCER_PORT/$TASKDB_TEST_DB"
        export TASKDB_TEST_BOUNCER_PORT TASKDB_TEST_BOUNCER_URL
    fi
    if [ -n "$_te_hang" ]; then
        _te_hangd_start || return 1
    fi
    return 0
}

# Kill everything testenv_start started and remove the directory.  Quiet,
# idempotent, and safe after a partial start or a spec that stopped things.
testenv_stop() {
    [ -n "${_te_started:-}" ] || return 0
    _te_started=''
    [ -n "${TASKDB_TEST_DIR:-}" ] && [ -d "$TASKDB_TEST_DIR" ] || return 0

    _te_pid=$(cat "$TASKDB_TEST_DIR/hangd.pid" 2>/dev/null)
    _te_alive "$_te_pid" && kill -TERM "$_te_pid" 2>/dev/null

    testenv_bouncer_stop kill

    if [ -f "$TASKDB_TEST_PGDATA/postmaster.pid" ]; then
        # Immediate: the data is about to be deleted anyway.
        _te_pid=$(head -n 1 "$TASKDB_TEST_PGDATA/postmaster.pid" 2>/dev/null)
        _te_pg_ctl stop -m immediate -w -t 10 -s >/dev/null 2>&1
        if _te_alive "$_te_pid"; then
            kill -KILL "$_te_pid" 2>/dev/null
            _te_sleep 0.2
        fi
    fi
    rm -rf "$TASKDB_TEST_DIR"
    return 0
}
