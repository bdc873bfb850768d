#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests and benchmarks, from Debian's packages.
#   bash scripts/pg.sh install      installs postgresql (apt, with sudo when not root) if missing
#   bash scripts/pg.sh start DIR    initdb in DIR/data, start on a free port with its unix
#                                   socket in DIR; prints postgresql://... on stdout
#   bash scripts/pg.sh stop DIR     stops it (immediate: the data is thrown away)
# initdb refuses to run as root: as root the cluster belongs to the `postgres` user.
set -euo pipefail

pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$d" ] || { echo "pg.sh: PostgreSQL is not installed (bash scripts/pg.sh install)" >&2; exit 1; }
  echo "$d"
}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  install)
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
      SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
      $SUDO apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql
    fi
    ;;
  start)
    dir=${2:?pg.sh start DIR}
    bin=$(pg_bin)
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_owner "$bin/initdb" -D "$dir/data" -U hallq --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgresql://hallq@127.0.0.1:$port/postgres"
    ;;
  stop)
    dir=${2:?pg.sh stop DIR}
    [ -d "$dir/data" ] && as_owner "$(pg_bin)/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    ;;
  *)
    echo "usage: pg.sh install | start DIR | stop DIR" >&2; exit 2 ;;
esac
