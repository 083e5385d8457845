#!/usr/bin/env bash
# PostGIS store benchmarks, one run, side by side on the same 1M parcels and the same cluster:
#  - import into PostGIS: bando (binary COPY, one transaction, GiST index) against
#    ogr2ogr --config PG_USE_COPY YES (also one table with a GiST index)
#  - time until `bando serve` over that PostGIS store answers /ready (the layer loaded)
#  - re-import pick-up latency across 2 replicas, p50 / p99 (benches/pickup.py), over the demo
#    province with 20,000 parcels plus a re-imported 10,000-point layer
# usage: benches/postgis.sh [pickup]   (a throw-away cluster from tests/pg/cluster.sh; the 1M-parcel
#        file is made in $TMP/bench with shared/bench's generator when missing; `pickup` runs only
#        the last part, in under a minute)
set -euo pipefail
cd "$(dirname "$0")/.."
only=${1:-all}
TMP=$(dirname "$(mktemp -u)"); B=$TMP/bench; mkdir -p "$B"
GEN=../shared/bench/gen-bench-parcels.py
[ "$only" = pickup ] || [ -f "$B/parcels1m.geojsons" ] || [ -f "$B/parcels1m.fgb" ] || python3 "$GEN" 1000000 > "$B/parcels1m.geojsons"
[ "$only" = pickup ] || [ -f "$B/parcels1m.fgb" ] || ogr2ogr -f FlatGeobuf "$B/parcels1m.fgb" "$B/parcels1m.geojsons" -nln parcels
cargo build --release -q
BANDO=target/release/bando

dir=$(mktemp -d); chmod 755 "$dir"
port=17$((RANDOM % 900 + 100))
url=$(bash tests/pg/cluster.sh start "$dir/pg" "$port" $$)
trap 'bash tests/pg/cluster.sh stop "$dir/pg"; rm -rf "$dir"' EXIT
PG="PG:host=127.0.0.1 port=$port user=bando password=bando dbname=bando"

measure() { # label command...
  /usr/bin/time -o "$B/time.txt" -f "%e %M" "${@:2}" >/dev/null 2>"$B/err.txt" || { cat "$B/err.txt"; exit 1; }
  local out; out=$(tail -1 "$B/time.txt")
  local secs=${out% *} rss=${out#* }
  printf "%-40s %7.2f s %10.0f features/s %7.0f MB peak RSS\n" "$1" "$secs" "$(echo "1000000 / $secs" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
}
sql() { PGPASSWORD=bando psql -X -q -A -t -h 127.0.0.1 -p "$port" -U bando bando -c "$1"; }
pickup() {
  echo "== re-import pick-up across 2 replicas"
  sql "CREATE DATABASE pickup TEMPLATE bando" >/dev/null
  local purl=${url%/bando}/pickup
  $BANDO demo --parcels 20000 --store "$purl" >/dev/null
  python3 benches/pickup.py --store "$purl" --bando $BANDO --replicas 2 --rounds 30 --points 10000
}
if [ "$only" = pickup ]; then pickup; exit 0; fi
sql "CREATE SCHEMA ogr"
echo "== import 1,000,000 parcels (FlatGeobuf) into PostGIS"
measure "bando import --store postgresql://" $BANDO import "$B/parcels1m.fgb" --layer parcels --kind cadastral --store "$url" --json
measure "ogr2ogr -f PostgreSQL (PG_USE_COPY)" ogr2ogr --config PG_USE_COPY YES -f PostgreSQL "$PG" "$B/parcels1m.fgb" \
  -nln ogr.parcels -lco GEOMETRY_NAME=geom -lco SPATIAL_INDEX=GIST
sql "SELECT 'rows: bando ' || (SELECT count(*) FROM bando.parcels) || ', ogr2ogr ' || (SELECT count(*) FROM ogr.parcels)"

echo "== server ready on the 1M-parcel PostGIS store"
sport=18$((RANDOM % 900 + 100))
start=$(date +%s.%N)
$BANDO serve --store "$url" --addr 127.0.0.1:$sport >/dev/null 2>&1 &
pid=$!
until curl -sf -o /dev/null http://127.0.0.1:$sport/ready; do sleep 0.05; done
printf "bando serve ready in %.2f s, RSS %d MB\n" "$(echo "$(date +%s.%N) - $start" | bc)" $(( $(ps -o rss= -p $pid) / 1024 ))
kill $pid; wait $pid 2>/dev/null || true
pickup
