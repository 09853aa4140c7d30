#!/usr/bin/env bash
# Throwaway Postgres for tests: `pg-throwaway.sh start DIR PORT` prints a DATABASE_URL;
# `pg-throwaway.sh stop DIR` stops it and removes DIR. Runs as user `postgres` when root.
set -euo pipefail
cmd=$1 dir=$2
bin=${GATEHOUSE_POSTGRES_BIN_DIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "no Postgres binaries found (apt-get install postgresql, or set GATEHOUSE_POSTGRES_BIN_DIR)" >&2
  exit 1
fi
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
  start)
    port=$3
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir" && chmod 700 "$dir"
    as_pg "$bin/initdb" -D "$dir/data" -U gatehouse -A trust --no-sync -E UTF8 >/dev/null
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $port -c fsync=off -c unix_socket_directories=$dir" start >/dev/null
    echo "postgres://gatehouse@127.0.0.1:$port/gatehouse"
    ;;
  stop)
    as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
