#!/usr/bin/env bash
# bando's spatial queries over HTTP side by side with PostGIS on the same 1M parcels, same run.
# Needs the shared bench kit (/work/shared/bench/bench-setup.sh: PostgreSQL/PostGIS with the
# parcels loaded, wrk) and a release build. Makes $B/q1m.gpkg (parcels + 16 wards) once and loads
# the same wards into PostGIS. usage: benches/query_http.sh [seconds per run]
set -eu
T=${1:-15}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BANDO=$ROOT/target/release/bando
KIT=$ROOT/../shared/bench
B=$(dirname "$(mktemp -u)")/bench
W=$B/query-bench; mkdir -p $W; cd $W
PG="host=127.0.0.1 user=bench password=bench dbname=bench"
python3 $ROOT/benches/bench_wards.py > wards.geojson
if [ ! -f $B/q1m.gpkg ]; then
  $BANDO import $B/parcels1m.fgb --layer parcels --kind cadastral --store $B/q1m.gpkg
  $BANDO import wards.geojson --layer wards --kind admin --store $B/q1m.gpkg
fi
ogr2ogr -f PostgreSQL "PG:$PG" wards.geojson -nln wards -lco GEOMETRY_NAME=geom -lco SPATIAL_INDEX=GIST -overwrite
cp $KIT/radius.sql $KIT/point.sql .
cat > ward.sql <<'SQL'
\set code random(30000, 30015)
SELECT count(*) OVER () AS matched, p.pid, p.so_thua, p.so_to, p.loai_dat, p.dien_tich, ST_AsGeoJSON(p.geom) FROM parcels p JOIN wards w ON ST_Intersects(p.geom, w.geom) WHERE w.code = ':code' ORDER BY p.pid LIMIT 1000;
SQL
PORT=18499; BASE=http://127.0.0.1:$PORT
python3 - $BASE <<'PY'
import random, sys
rng, base = random.Random(11), sys.argv[1]
with open("radius.urls", "w") as f:
    for _ in range(50000):
        f.write(f"{base}/query/radius?lon={107.45 + rng.randrange(1000) * 0.000187:.7f}&lat={16.30 + rng.randrange(1000) * 0.00018:.7f}&radius_m=500&layers=parcels&limit=10000\n")
with open("point.urls", "w") as f:
    for _ in range(200000):
        f.write(f"{base}/query/point?lon={107.45 + rng.randrange(100000) * 0.00000187:.9f}&lat={16.30 + rng.randrange(100000) * 0.0000018:.9f}&layers=parcels\n")
with open("ward.urls", "w") as f:
    for _ in range(20000):
        f.write(f"{base}/query/boundary?admin=wards:{30000 + rng.randrange(16)}&layers=parcels&limit=1000\n")
PY
$BANDO serve --store $B/q1m.gpkg --addr 127.0.0.1:$PORT > serve.log 2>&1 & SERVER=$!
trap 'kill $SERVER' EXIT
until curl -sf $BASE/ready > /dev/null; do sleep 0.5; done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for q in radius point ward; do
  for c in 2 16; do
    r=$(URLS=$q.urls wrk -t2 -c$c -d${T}s -s $KIT/wrk-urls.lua $BASE 2>&1 | awk '/Requests\/sec/{rps=$2} /urls=/{print rps, $0}')
    echo "bando   $q c=$c: $r"
    p=$(PGPASSWORD=bench pgbench -h 127.0.0.1 -U bench -n -c $c -j 2 -T $T -f $q.sql bench 2>&1 | awk '/latency average/{lat=$4} /^tps/{print $3, "q/s, latency avg", lat, "ms"}')
    echo "postgis $q c=$c: $p"
  done
done
