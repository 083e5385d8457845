#!/usr/bin/env bash
# A throw-away PostgreSQL 15 + PostGIS 3 cluster for tests and benchmarks, on a data directory and
# port of its own, so it never touches (or needs) a PostgreSQL already running on this machine.
#   tests/pg/cluster.sh start DIR PORT [PID]
#       initdb in DIR/data, start on 127.0.0.1:PORT, create the database `bando` (superuser `bando`,
#       password `bando`) with CREATE EXTENSION postgis and print its URL; with PID, a watcher
#       stops the cluster and removes DIR once that process (a test binary) has exited
#   tests/pg/cluster.sh stop DIR         stop the cluster and remove DIR
#   tests/pg/cluster.sh halt DIR         stop the server (fast shutdown), keep DIR: an outage
#   tests/pg/cluster.sh resume DIR PORT  start the halted server again on the same port
# As root, the server runs as the `postgres` user (initdb refuses root).
set -euo pipefail
BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
cmd=${1:?usage: cluster.sh start DIR PORT [PID] | stop DIR}
dir=${2:?usage: cluster.sh start DIR PORT [PID] | stop DIR}
as_owner=()
[ "$(id -u)" = 0 ] && as_owner=(runuser -u postgres --)

# Starts the server of DIR/data on 127.0.0.1:PORT (DIR and PORT as arguments).
run_server() {
  "${as_owner[@]}" "$BIN/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$2 -c unix_socket_directories=$1 -c fsync=off -c max_connections=50" \
    start >/dev/null || { cat "$1/server.log" >&2; exit 1; }
}

case $cmd in
start)
  port=${3:?usage: cluster.sh start DIR PORT}
  [ -x "$BIN/initdb" ] || { echo "no PostgreSQL 15 in $BIN: run bash .ci/setup --test" >&2; exit 1; }
  mkdir -p "$dir"
  chmod 755 "$dir"
  if [ ${#as_owner[@]} -gt 0 ]; then
    chown postgres "$dir"
    "${as_owner[@]}" test -w "$dir" || { echo "user postgres cannot reach $dir: make its parent folders traversable (chmod o+x)" >&2; exit 1; }
  fi
  pwfile="$dir/pw"
  echo bando > "$pwfile"
  [ ${#as_owner[@]} -gt 0 ] && chown postgres "$pwfile"
  "${as_owner[@]}" "$BIN/initdb" -D "$dir/data" -U bando --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  run_server "$dir" "$port"
  psql=("${as_owner[@]}" "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U bando)
  "${psql[@]}" -d postgres -c "CREATE DATABASE bando OWNER bando"
  "${psql[@]}" -d bando -c "CREATE EXTENSION postgis"
  if [ -n "${4:-}" ]; then
    setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" stop "$3"' \
      watcher "$4" "$0" "$dir" </dev/null >/dev/null 2>&1 &
  fi
  echo "postgresql://bando:bando@127.0.0.1:$port/bando"
  ;;
halt)
  "${as_owner[@]}" "$BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  ;;
resume)
  run_server "$dir" "${3:?usage: cluster.sh resume DIR PORT}"
  ;;
stop)
  if [ -f "$dir/data/postmaster.pid" ]; then
    "${as_owner[@]}" "$BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  ;;
*) echo "usage: cluster.sh start DIR PORT [PID] | stop DIR | halt DIR | resume DIR PORT" >&2; exit 2 ;;
esac
