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

bench_pg_find_bin() {
    if [ -n "${BENCH_PGBIN:-}" ]; then echo "$BENCH_PGBIN"; return; fi
    if [ -x /usr/lib/postgresql/15/bin/pg_ctl ]; then
        echo /usr/lib/postgresql/15/bin; return
    fi
    v=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n | tail -n 1)
    if [ -n "$v" ]; then echo "$v"; return; fi
    echo "bench: PostgreSQL server binaries not found (run: sh scripts/deps.sh)" >&2
    return 1
}

# Runs a server-side command as the server's user, from / (root's cwd may
# be unreadable to postgres).
bench_as_server() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

bench_pg_start() {
    PGBIN=$(bench_pg_find_bin) || return 1
    BENCH_TMP=$(mktemp -d /tmp/taskdb-bench.XXXXXX) || return 1
    chmod 755 "$BENCH_TMP"
    BENCH_PGDATA="$BENCH_TMP/data"
    BENCH_SOCK="$BENCH_TMP/sock"
    mkdir -m 700 "$BENCH_PGDATA" "$BENCH_SOCK"
    if [ "$(id -u)" -eq 0 ]; then
        getent passwd postgres >/dev/null 2>&1 ||
            { echo "bench: running as root but no 'postgres' user" >&2; return 1; }
        chown postgres: "$BENCH_PGDATA" "$BENCH_SOCK"
    fi
    if locale -a 2>/dev/null | grep -Eqi '^c\.utf-?8$'; then loc=C.UTF-8; else loc=C; fi
    bench_as_server "$PGBIN/initdb" -D "$BENCH_PGDATA" -U postgres -E UTF8 \
        --locale="$loc" --auth=trust --no-instructions >"$BENCH_TMP/initdb.log" 2>&1 ||
        { cat "$BENCH_TMP/initdb.log" >&2; return 1; }
    # Default settings; only where it listens changes.
    pin=""
    [ -z "${BENCH_SERVER_CPUS:-}" ] || pin="taskset -c $BENCH_SERVER_CPUS"
    # shellcheck disable=SC2086  # $pin is empty or a command and its options
    bench_as_server $pin "$PGBIN/pg_ctl" start -D "$BENCH_PGDATA" -w -t 60 -s \
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
        bench_as_server "$PGBIN/pg_ctl" stop -D "$BENCH_PGDATA" -m immediate -w -s \
            >/dev/null 2>&1 || true
    fi
    if [ -n "${BENCH_TMP:-}" ] && [ -d "$BENCH_TMP" ]; then
        rm -rf -- "$BENCH_TMP"
    fi
}
