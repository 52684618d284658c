# bench/pgcluster.sh — a private, throw-away PostgreSQL 15 cluster for the
# benchmark.  Sourced by bench/run.sh (POSIX sh).  Fresh cluster in a
# temporary directory, default settings, Unix socket only (no TCP), trust
# auth; as root the server runs as the `postgres` system user (PostgreSQL
# refuses root).  The caller installs `trap bench_pg_stop EXIT`.
#
# BENCH_SERVER_CPUS (a taskset CPU list), if set, pins the server (the
# postmaster; its backends inherit it).
#
# After bench_pg_start:  PGBIN, BENCH_TMP, BENCH_SOCK, BENCH_PGDATA are set,
# and PGHOST/PGUSER/PGDATABASE are exported for psql and pgbench.
# BENCH_PGBIN, if set, names the server binaries' directory.
# Needs $PROJECT (bench/paths.sh sets it).

# shellcheck source=scripts/pgenv.sh
. "$PROJECT/scripts/pgenv.sh"

bench_pg_start() {
    PGBIN=${BENCH_PGBIN:-$(pgenv_bindir)} || return 1
    BENCH_TMP=$(mktemp -d /tmp/taskdb-bench.XXXXXX) || return 1
    chmod 755 "$BENCH_TMP"
    BENCH_PGDATA="$BENCH_TMP/data"
    BENCH_SOCK="$BENCH_TMP/sock"
    mkdir -m 700 "$BENCH_PGDATA" "$BENCH_SOCK"
    pgenv_need_user postgres || return 1
    [ "$(id -u)" -ne 0 ] || chown postgres: "$BENCH_PGDATA" "$BENCH_SOCK"
    pgenv_initdb postgres "$PGBIN" "$BENCH_PGDATA" "$BENCH_TMP/initdb.log" || return 1
    # Default settings; only where it listens changes.
    pin=""
    [ -z "${BENCH_SERVER_CPUS:-}" ] || pin="taskset -c $BENCH_SERVER_CPUS"
    # shellcheck disable=SC2086  # $pin is empty or a command and its options
    pgenv_run_as postgres $pin "$PGBIN/pg_ctl" start -D "$BENCH_PGDATA" -w -t 60 -s \
        -l "$BENCH_PGDATA/server.log" \
        -o "-c listen_addresses='' -c unix_socket_directories='$BENCH_SOCK'" >/dev/null ||
        { tail -n 20 "$BENCH_PGDATA/server.log" >&2; return 1; }
    PGHOST=$BENCH_SOCK PGUSER=postgres PGDATABASE=postgres
    export PGHOST PGUSER PGDATABASE
    # PGPORT/PGPASSWORD etc. from the caller's environment must not leak in.
    unset PGPORT PGHOSTADDR PGSERVICE PGOPTIONS PGSSLMODE
}

bench_pg_stop() {
    if [ -n "${BENCH_PGDATA:-}" ] && [ -f "$BENCH_PGDATA/postmaster.pid" ]; then
        pgenv_run_as postgres "$PGBIN/pg_ctl" stop -D "$BENCH_PGDATA" -m immediate -w -s \
            >/dev/null 2>&1 || true
    fi
    if [ -n "${BENCH_TMP:-}" ] && [ -d "$BENCH_TMP" ]; then
        rm -rf -- "$BENCH_TMP"
    fi
}
