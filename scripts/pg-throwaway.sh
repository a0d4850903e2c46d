#!/usr/bin/env bash
# Throw-away PostgreSQL cluster for tests: `start DIR` prints a postgres:// URL on stdout,
# `stop DIR` stops the cluster and removes DIR. `halt DIR` stops the server but keeps the
# cluster, `restart DIR` starts it again on the same port (outage tests). Used by .ci/run and by the test suite's
# global setup (when no SEALPOST_TEST_DATABASE_URL is given).
set -euo pipefail

find_bin() {
  local name=$1
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$found" ] && { echo "$found"; return; }
  echo "pg-throwaway: $name not found (install PostgreSQL, e.g. apt-get install postgresql)" >&2
  exit 3
}

# initdb and postgres refuse to run as root; run them as the postgres user when we are root.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u "${PG_OS_USER:-postgres}" -- "$@"; else "$@"; fi
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

cmd=${1:?usage: pg-throwaway.sh start|stop|halt|restart DIR}
dir=${2:?usage: pg-throwaway.sh start|stop|halt|restart DIR}

start_server() {
  # Loopback only, socket in the cluster dir, durability off: this cluster is thrown away.
  as_owner "$(find_bin pg_ctl)" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $1 -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null
}

case "$cmd" in
  start)
    initdb=$(find_bin initdb); pg_ctl=$(find_bin pg_ctl)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown "${PG_OS_USER:-postgres}" "$dir"; fi
    as_owner "$initdb" -D "$dir/data" -U sealpost --auth=trust --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    # PostgreSQL cannot be told to pick its own port, so a free one is chosen just before the
    # start; another process may still take it first (the server then fails to bind), so a
    # failed start is retried on a fresh port.
    started=0
    for attempt in 1 2 3 4 5; do
      port=$(free_port)
      if start_server "$port"; then
        started=1
        break
      fi
      echo "pg-throwaway: start on port $port failed (attempt $attempt)" >&2
    done
    [ "$started" = 1 ] || { cat "$dir/server.log" >&2; exit 1; }
    echo "$port" >"$dir/port"
    echo "postgres://sealpost@127.0.0.1:$port/postgres"
    ;;
  stop)
    pg_ctl=$(find_bin pg_ctl)
    if [ -d "$dir/data" ]; then as_owner "$pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
    ;;
  halt)
    as_owner "$(find_bin pg_ctl)" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  restart)
    start_server "$(cat "$dir/port")"
    ;;
  *) echo "usage: pg-throwaway.sh start|stop|halt|restart DIR" >&2; exit 2 ;;
esac
