#!/usr/bin/env bash
# Start a throwaway PostgreSQL for the state store tests and print the URL they read from
# LEADQ_TEST_POSTGRES_URL. Usage: `eval "$(.ci/postgres.sh start DIR)"`, later `.ci/postgres.sh stop DIR`.
# Installs Debian's postgresql when no server binaries are found; runs the server as the `postgres`
# user when called as root (initdb refuses root).
set -euo pipefail
action=${1:?start or stop}
dir=${2:?a folder for the cluster}
# A free port unless one is given (another server, or an earlier run's, may hold the usual one).
port=${LEADQ_PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}

find_bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [[ -z "$found" ]] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null 2>&1 || true
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  fi
  echo "$found"
}

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bin=$(find_bin)
if [[ -z "$bin" ]]; then
  echo "echo 'PostgreSQL is not installed: the PostgreSQL store tests will be skipped' >&2"
  exit 0
fi

case "$action" in
  start)
    mkdir -p "$dir"
    if [[ $(id -u) -eq 0 ]]; then chown postgres "$dir"; fi
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
      as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync >/dev/null
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -q -c "CREATE DATABASE leadq_test" >/dev/null 2>&1 || true
    echo "export LEADQ_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$port/leadq_test"
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
esac
