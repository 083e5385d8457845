#!/usr/bin/env bash
# Foundation benchmarks, one run, side by side with ogr2ogr on the same files:
#  - import of 1,000,000 parcels from FlatGeobuf and GeoJSON: seconds, features/s, peak RSS
#  - time until `bando serve` answers /ready on the 1M-parcel store
#  - R-tree bulk load of 1M polygons (cargo bench --bench index)
# usage: benches/foundation.sh   (makes the 1M-parcel files in $TMP/bench with shared/bench's
#        generator when they are missing; needs gdal-bin and python3)
set -euo pipefail
cd "$(dirname "$0")/.."
TMP=$(dirname "$(mktemp -u)"); B=$TMP/bench; mkdir -p "$B"
GEN=../shared/bench/gen-bench-parcels.py
[ -f "$B/parcels1m.geojsons" ] || python3 "$GEN" 1000000 > "$B/parcels1m.geojsons"
[ -f "$B/parcels1m.fgb" ] || ogr2ogr -f FlatGeobuf "$B/parcels1m.fgb" "$B/parcels1m.geojsons" -nln parcels
[ -f "$B/parcels1m.geojson" ] || ogr2ogr -f GeoJSON "$B/parcels1m.geojson" "$B/parcels1m.fgb" -nln parcels1m
cargo build --release -q
BANDO=target/release/bando

measure() { # label command...
  /usr/bin/time -o "$B/time.txt" -f "%e %M" "${@:2}" >/dev/null 2>&1
  local out; out=$(tail -1 "$B/time.txt")
  local secs=${out% *} rss=${out#* }
  printf "%-28s %7.2f s %10.0f features/s %7.0f MB peak RSS\n" "$1" "$secs" "$(echo "1000000 / $secs" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
}
echo "== import 1,000,000 parcels into GeoPackage"
for f in fgb geojson; do
  rm -f "$B"/imp-*.gpkg*
  measure "bando import ($f)" $BANDO import "$B/parcels1m.$f" --layer parcels --kind cadastral --store "$B/imp-bando.gpkg" --json
  measure "ogr2ogr -f GPKG ($f)" ogr2ogr -f GPKG "$B/imp-ogr.gpkg" "$B/parcels1m.$f" -nln parcels
done

echo "== server ready on the 1M-parcel store"
port=18$((RANDOM % 900 + 100))
start=$(date +%s.%N)
$BANDO serve --store "$B/imp-bando.gpkg" --addr 127.0.0.1:$port >/dev/null 2>&1 &
pid=$!
until curl -sf -o /dev/null http://127.0.0.1:$port/ready; do sleep 0.05; done
printf "bando serve ready in %.2f s, RSS %d MB\n" "$(echo "$(date +%s.%N) - $start" | bc)" $(( $(ps -o rss= -p $pid) / 1024 ))
kill $pid; wait $pid 2>/dev/null || true
rm -f "$B"/imp-*.gpkg*

echo "== R-tree bulk load"
cargo bench -q --bench index 2>/dev/null | grep rtree
