# scripts/pgenv.sh -- where PostgreSQL's server programs are, and how to run
# them.  Sourced (POSIX sh) by scripts/localdb.sh, spec/support/testenv.sh
# and bench/pgcluster.sh; defines functions only.
#
# Debian keeps initdb, pg_ctl and postgres in /usr/lib/postgresql/<ver>/bin,
# off PATH.  PostgreSQL refuses to run as root, so under root the server's
# programs run as another user (normally `postgres`), and from /: the
# caller's directory (a checkout under /root, say) may be out of that user's
# reach.  Nothing here makes that user read a file of the checkout.
#
#   pgenv_bindir [DATADIR]       print the directory of initdb and pg_ctl
#   pgenv_need_user USER         under root: fail unless USER exists
#   pgenv_run_as USER CMD...     CMD as USER under root, else as ourselves
#   pgenv_initdb USER BINDIR DATADIR LOG [OPTION...]
#                                a new cluster: superuser postgres, UTF8,
#                                trust; initdb's output appended to LOG
#   pgenv_wait_ready BINDIR SOCKDIR PORT SECONDS
#                                wait until the server accepts connections
#
# Overrides: TASKDB_PGBIN (the directory pgenv_bindir prints).

# The version that created DATADIR wins (a cluster only runs under its own
# major version); else 15, the project's target; else the newest installed;
# else whatever is on PATH.
pgenv_bindir() {
    if [ -n "${TASKDB_PGBIN:-}" ]; then
        echo "$TASKDB_PGBIN"; return 0
    fi
    if [ -n "${1:-}" ] && [ -f "$1/PG_VERSION" ]; then
        _pgenv_v=$(cat "$1/PG_VERSION")
        if [ -x "/usr/lib/postgresql/$_pgenv_v/bin/pg_ctl" ]; then
            echo "/usr/lib/postgresql/$_pgenv_v/bin"; return 0
        fi
    fi
    if [ -x /usr/lib/postgresql/15/bin/pg_ctl ]; then
        echo /usr/lib/postgresql/15/bin; return 0
    fi
    _pgenv_v=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n | tail -n 1)
    if [ -n "$_pgenv_v" ] && [ -x "$_pgenv_v/pg_ctl" ]; then
        echo "$_pgenv_v"; return 0
    fi
    if command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"; return 0
    fi
    echo "PostgreSQL server programs not found (initdb, pg_ctl): run" \
        "'sh scripts/deps.sh' as root, or set TASKDB_PGBIN" >&2
    return 1
}

pgenv_need_user() {   # user
    [ "$(id -u)" -ne 0 ] || getent passwd "$1" >/dev/null 2>&1 || {
        echo "running as root, but there is no '$1' system user to run" \
            "PostgreSQL as; install PostgreSQL: sh scripts/deps.sh" >&2
        return 1
    }
}

pgenv_run_as() {   # user command [argument...]
    _pgenv_u=$1
    shift
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u "$_pgenv_u" -- "$@")
    else
        "$@"
    fi
}

# The locale is C.UTF-8 where the system has it, else C: the cluster is UTF8
# either way, so lengths count characters.
pgenv_initdb() {   # user bindir datadir log [initdb option...]
    _pgenv_u=$1 _pgenv_b=$2 _pgenv_d=$3 _pgenv_l=$4
    shift 4
    if locale -a 2>/dev/null | grep -Eqi '^c\.utf-?8$'; then
        _pgenv_loc=C.UTF-8
    else
        _pgenv_loc=C
    fi
    pgenv_run_as "$_pgenv_u" "$_pgenv_b/initdb" -D "$_pgenv_d" -U postgres \
        -E UTF8 --locale="$_pgenv_loc" --auth=trust --no-instructions "$@" \
        >>"$_pgenv_l" 2>&1 || {
        tail -n 20 "$_pgenv_l" >&2
        echo "initdb failed (full log: $_pgenv_l)" >&2
        return 1
    }
}

# pg_ctl -w returns once the postmaster says "ready"; this asks over the
# socket, as a client will.
pgenv_wait_ready() {   # bindir sockdir port seconds
    _pgenv_i=0
    until "$1/pg_isready" -q -h "$2" -p "$3" -U postgres -d postgres; do
        _pgenv_i=$((_pgenv_i + 1))
        [ "$_pgenv_i" -lt $(($4 * 10)) ] || return 1
        sleep 0.1 2>/dev/null || sleep 1
    done
}
