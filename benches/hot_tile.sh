#!/usr/bin/env bash
# One hot cached tile from bando next to a bare axum route answering the same bytes with the same
# headers from memory (benches/bare_route.rs), in alternating rounds of the same run: the ratio
# says how close bando's cached path is to the machine's HTTP limit (issue 3 asks for >= 0.8).
# usage: benches/hot_tile.sh [STORE.gpkg] [rounds] [seconds per run]
# Without a store it builds the 1M-parcel demo province once ($TMPDIR/bench/demo1m.gpkg).
# The tile is the z16 tile at the middle of the parcels layer (or TILE=z/x/y).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$(dirname "$(mktemp -u)")/bench; mkdir -p "$B"
STORE=${1:-$B/demo1m.gpkg}
ROUNDS=${2:-3}
T=${3:-10}
BANDO=$ROOT/target/release/bando
(cd "$ROOT" && cargo build --release --quiet && cargo bench --bench bare_route --no-run --quiet 2>/dev/null)
BARE=$(ls -t "$ROOT"/target/release/deps/bare_route-* | grep -v '\.d$' | head -1)
[ -f "$STORE" ] || "$BANDO" demo --parcels 1000000 --store "$STORE"

PORT=18514; BARE_PORT=18515
"$BANDO" serve --store "$STORE" --addr 127.0.0.1:$PORT > "$B/hot_tile.log" 2>&1 & SERVER=$!
trap 'kill $SERVER ${BARE_PID:-} 2>/dev/null' EXIT
for _ in $(seq 120); do curl -sf http://127.0.0.1:$PORT/ready > /dev/null && break; sleep 0.5; done
if [ -z "${TILE:-}" ]; then
  TILE=$(curl -sf http://127.0.0.1:$PORT/layers/parcels | python3 -c '
import json, math, sys
b = json.load(sys.stdin)["bbox"]
w, s, e, n = b["west"], b["south"], b["east"], b["north"]
lon, lat, z = (w + e) / 2, (s + n) / 2, 16
x = int((lon + 180) / 360 * 2**z)
y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
print(f"{z}/{x}/{y}")')
fi
URL=http://127.0.0.1:$PORT/tiles/parcels/$TILE.mvt
curl -sf -H 'Accept-Encoding: gzip' -o "$B/hot.mvt.gz" "$URL"
[ -s "$B/hot.mvt.gz" ] || { echo "tile $TILE is empty; pick one with TILE=z/x/y" >&2; exit 1; }
echo "tile $TILE: $(stat -c %s "$B/hot.mvt.gz") bytes gzip; headers:"
curl -s -D - -o /dev/null -H 'Accept-Encoding: gzip' "$URL" | sed 's/^/  /'
"$BARE" "$B/hot.mvt.gz" 127.0.0.1:$BARE_PORT > /dev/null & BARE_PID=$!
sleep 0.5

rate() { wrk -t1 -c32 -d"${T}s" -H 'Accept-Encoding: gzip' "$1" | awk '/Requests\/sec/ {print $2}'; }
echo "| round | bando cached tile req/s | bare route req/s | ratio |"
echo "|---|---|---|---|"
for round in $(seq "$ROUNDS"); do
  bando=$(rate "$URL")
  bare=$(rate http://127.0.0.1:$BARE_PORT/tile)
  echo "| $round | $bando | $bare | $(python3 -c "print(round($bando / $bare, 3))") |"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
