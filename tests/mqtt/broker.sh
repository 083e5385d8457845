#!/usr/bin/env bash
# A throw-away Mosquitto broker for the live-layer tests and benchmarks, with a config and data
# directory of its own, on a port of its own, so it never touches a broker already running here.
#   tests/mqtt/broker.sh start DIR PORT   write DIR/mosquitto.conf, start the broker (daemon) on
#                                         127.0.0.1:PORT, wait until it accepts connections
#   tests/mqtt/broker.sh stop DIR         stop it (the pid in DIR/mosquitto.pid); DIR is kept
# Restarting (stop, then start on the same DIR and PORT) is how tests simulate a broker restart.
set -euo pipefail
cmd=${1:?usage: broker.sh start DIR PORT | stop DIR}
dir=${2:?usage: broker.sh start DIR PORT | stop DIR}
BIN=${MOSQUITTO_BIN:-/usr/sbin/mosquitto}

case $cmd in
start)
  port=${3:?usage: broker.sh start DIR PORT}
  [ -x "$BIN" ] || { echo "no mosquitto at $BIN: run bash .ci/setup --test" >&2; exit 1; }
  mkdir -p "$dir"
  chmod 777 "$dir"
  cat > "$dir/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
pid_file $dir/mosquitto.pid
log_dest file $dir/mosquitto.log
max_queued_messages 1000000
max_inflight_messages 0
CONF
  "$BIN" -c "$dir/mosquitto.conf" -d
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then exit 0; fi
    sleep 0.05
  done
  echo "mosquitto did not listen on $port; see $dir/mosquitto.log" >&2
  cat "$dir/mosquitto.log" >&2 || true
  exit 1
  ;;
stop)
  if [ -f "$dir/mosquitto.pid" ]; then
    pid=$(cat "$dir/mosquitto.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    rm -f "$dir/mosquitto.pid"
  fi
  ;;
*)
  echo "usage: broker.sh start DIR PORT | stop DIR" >&2
  exit 2
  ;;
esac
