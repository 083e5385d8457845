#!/usr/bin/env bash
# Live layers (issue 14) on this machine, through a real Mosquitto (tests/mqtt/broker.sh):
#   1. sustained ingest: `bando simulate` publishes DEVICES vessels at RATE messages/s (QoS 0) to
#      bando with 20 zone rules; bando's accepted messages/s next to mosquitto_sub draining the
#      same traffic (what the broker delivers to one subscriber: the peer);
#   2. memory: bando's resident set before the first report and with every device live;
#   3. alert latency, publish to `event: alert` on /alerts/stream (benches/live_latency.py),
#      while the simulator keeps publishing;
#   4. a live-layer tile (vessels_live, new data every publication) next to the same tile of the
#      static `vessels` layer, wrk --latency under the same ingest.
# usage: benches/live.sh [DEVICES] [RATE] [SECONDS]     (defaults 10000 20000 20)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$(dirname "$(mktemp -u)")/bench; mkdir -p "$B"
DEVICES=${1:-10000}; RATE=${2:-20000}; T=${3:-20}
BANDO=$ROOT/target/release/bando
HTTP=18521; MQTT=18520
(cd "$ROOT" && cargo build --release --quiet)
[ -f "$B/live-demo.gpkg" ] || "$BANDO" demo --parcels 2000 --store "$B/live-demo.gpkg" > /dev/null
cp "$B/live-demo.gpkg" "$B/live-run.gpkg"   # live layers write their tables: a fresh copy a run

"$ROOT/tests/mqtt/broker.sh" start "$B/live-broker" $MQTT
{
  printf '[live]\n\n[[live.sources]]\nlayer = "vessels_live"\nbroker = "mqtt://127.0.0.1:%s"\n' $MQTT
  printf 'topic = "vms/+/position"\nid = "vessel_id"\ntime = "ts"\nfields = ["speed_kn", "heading"]\n'
  printf '\n[[live.rules]]\nid = "left_permitted_zone"\nlayer = "vessels_live"\nkind = "outside"\nzones = "fishing_zones"\nwhere = [{ field = "permitted", op = "eq", value = true }]\n'
  # 19 more zone rules: enter, exit, outside and dwell over the fishing zones, the wards, the
  # industrial parks and the planning zones.
  n=0
  for zones in fishing_zones wards industrial_parks planning_zones province; do
    for kind in enter exit outside dwell; do
      n=$((n + 1)); [ $n -le 19 ] || break
      printf '\n[[live.rules]]\nid = "r%s_%s_%s"\nlayer = "vessels_live"\nkind = "%s"\nzones = "%s"\n' $n $kind $zones $kind $zones
      [ $kind = dwell ] && printf 'after_seconds = 3600\n'
    done
  done
} > "$B/live-bench.toml"
RUST_LOG=warn "$BANDO" serve --store "$B/live-run.gpkg" --config "$B/live-bench.toml" --addr 127.0.0.1:$HTTP > "$B/live-serve.log" 2>&1 & SERVER=$!
trap 'kill $SERVER ${SIM:-} 2>/dev/null; "$ROOT/tests/mqtt/broker.sh" stop "$B/live-broker"' EXIT
for _ in $(seq 120); do curl -sf http://127.0.0.1:$HTTP/ready > /dev/null && break; sleep 0.5; done
accepted() { curl -sf http://127.0.0.1:$HTTP/metrics | awk '/^bando_live_messages_total\{.*layer="vessels_live".*outcome="accepted"/ {print $2}' | head -1; }
rss_kib() { awk '/VmRSS/ {print $2}' /proc/$SERVER/status; }
for _ in $(seq 50); do
  curl -sf http://127.0.0.1:$HTTP/metrics | grep -q '^bando_live_source_subscriptions_total.* [1-9]' && break; sleep 0.2
done
RSS0=$(rss_kib)

echo "== 1. sustained ingest: $DEVICES vessels, $RATE messages/s asked, ${T}s, 20 zone rules"
timeout $((T + 5)) mosquitto_sub -h 127.0.0.1 -p $MQTT -t 'vms/#' > "$B/live-sub.txt" 2>/dev/null & SUB=$!
sleep 0.3
START=$(date +%s.%N)
"$BANDO" simulate --broker mqtt://127.0.0.1:$MQTT --vessels "$DEVICES" --sensors 0 --rate "$RATE" --qos 0 \
  --seconds "$T" --store "$B/live-demo.gpkg" > "$B/live-sim.json" 2> /dev/null
# bando may still be draining what the broker queued: wait until the count stops growing.
last=$(accepted); last_at=$(date +%s.%N)
while sleep 0.5; do
  now=$(accepted); [ "$now" = "$last" ] && break; last=$now; last_at=$(date +%s.%N)
done
wait $SUB 2>/dev/null || true
PUBLISHED=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["published"])' "$B/live-sim.json")
SUBBED=$(wc -l < "$B/live-sub.txt")
python3 - "$START" "$last_at" "$last" "$PUBLISHED" "$SUBBED" "$T" <<'PY'
import sys
start, end, accepted, published, subbed, t = map(float, sys.argv[1:])
bando = accepted / (end - start)
print(f"simulator published {published:.0f} ({published / t:.0f}/s); mosquitto_sub received {subbed:.0f} ({subbed / t:.0f}/s)")
print(f"bando accepted {accepted:.0f} in {end - start:.1f} s: {bando:.0f} positions/s "
      f"({accepted / max(subbed, 1):.2f}x of what mosquitto_sub received)")
PY

echo "== 2. memory"
RSS1=$(rss_kib)
DEV=$(curl -sf http://127.0.0.1:$HTTP/metrics | awk '/^bando_live_devices\{.*vessels_live/ {print $2}' | head -1)
python3 -c "import sys; a,b,d=map(float,sys.argv[1:]); print(f'resident {a/1024:.0f} MiB before, {b/1024:.0f} MiB with {d:.0f} live devices: {(b-a)/1024/d*10000:.1f} MiB per 10,000 devices')" "$RSS0" "$RSS1" "$DEV"

echo "== 3. alert latency (publish -> event: alert), under ingest at $((RATE / 4))/s"
"$BANDO" simulate --broker mqtt://127.0.0.1:$MQTT --vessels "$DEVICES" --sensors 0 --rate $((RATE / 4)) --qos 0 \
  --seconds $((T * 3)) --store "$B/live-demo.gpkg" > /dev/null 2>&1 & SIM=$!
sleep 2
python3 "$ROOT/benches/live_latency.py" $HTTP $MQTT 200 20

echo "== 4. tile p99 under the same ingest: live vessels_live vs static vessels, z8 (wrk -t1 -c8 -d${T}s)"
XY=$(python3 -c 'import math; lon,lat,z=107.95,16.85,8; print(f"{int((lon+180)/360*2**z)}/{int((1-math.asinh(math.tan(math.radians(lat)))/math.pi)/2*2**z)}")')
for layer in vessels_live vessels; do
  url=http://127.0.0.1:$HTTP/tiles/$layer/8/$XY.mvt
  curl -sf -o /dev/null "$url" || { echo "no tile at $url" >&2; exit 1; }
  wrk -t1 -c8 -d"${T}s" --latency -H 'Accept-Encoding: gzip' "$url" |
    awk -v l=$layer '/Requests\/sec/ {r=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} END {print l": "r" req/s, p50 "p50", p99 "p99}'
done
kill $SIM 2>/dev/null || true
