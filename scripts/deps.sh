#!/bin/sh
# Install the Debian packages that building and testing need -- only the
# missing ones, so `make run` / `make test` stay quiet and fast once set up.
# Installing `postgresql` may create and start Debian's system cluster on
# port 5432; nothing in this project uses or touches it.
set -u

PACKAGES="gcc make pkg-config lua5.4 liblua5.4-dev lua-busted lua-cjson
libpq-dev postgresql postgresql-contrib pgbouncer libreadline-dev openssl
valgrind tmux lua-posix python3-sqlmodel python3-psycopg2
pg-auto-failover-cli postgresql-15-auto-failover luarocks man-db"

if ! command -v dpkg-query >/dev/null 2>&1; then
    # shellcheck disable=SC2086  # one word per package
    echo "deps: not a Debian system (no dpkg-query); make sure these are" \
         "installed:" $PACKAGES >&2
    exit 0
fi

missing=""
for p in $PACKAGES; do
    # `dpkg-query -W` alone also succeeds for removed-but-configured packages.
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) || st=""
    [ "$st" = installed ] || missing="$missing $p"
done
[ -n "$missing" ] || exit 0

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root="sudo -n"
else
    echo "deps: missing Debian packages:$missing" >&2
    echo "deps: run as root:  apt-get install$missing" >&2
    exit 1
fi
echo "deps: installing:$missing" >&2

# `env` so the variable survives sudo's environment reset.
apt() {
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}
apt update >/dev/null || { echo "deps: apt-get update failed" >&2; exit 1; }
# shellcheck disable=SC2086  # word splitting of the package list is wanted
apt install --no-install-recommends $missing ||
    { echo "deps: apt-get install failed for:$missing" >&2; exit 1; }
