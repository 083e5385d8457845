#!/usr/bin/env bash
# Issue 12's tile target, one run, side by side: bando serving a PostGIS store against Martin 1.14
# over the same PostGIS table, uncached distinct tiles z14-z19 (the judge's URL set and wrk
# settings of ../shared/bench/perf-tiles.sh). bando imports the 1M bench parcels into the bench
# database once (table bando.parcels, GiST index, SRID 4326); Martin serves that very table, and
# for reference the one ogr2ogr loaded (public.parcels).
# usage: benches/postgis_tiles.sh [BANDO_BINARY]   (run ../shared/bench/bench-setup.sh first;
#        DUR=seconds per server, default 15; bando runs with --no-cache, as the target is judged)
set -euo pipefail
cd "$(dirname "$0")/.."
BANDO=${1:-target/release/bando}
T=$(cd ../shared/bench && pwd); TMP=$(dirname "$(mktemp -u)"); B=$TMP/bench
MARTIN=$TMP/martin-install/bin/martin
DUR=${DUR:-15}; CONN=${CONN:-32}
DB=postgresql://bench:bench@127.0.0.1:5432/bench
bbox="107.45 16.30 107.637 16.48"
sql() { PGPASSWORD=bench psql -X -q -A -t -h 127.0.0.1 -U bench bench -c "$1"; }
run_wrk() { # name url-template
  python3 "$T/tile-urls.py" "$2" $bbox 14 19 > "$B/urls-$1.txt"
  URLS=$B/urls-$1.txt wrk -t1 -c"$CONN" -d"${DUR}s" --latency -s "$T/wrk-urls.lua" "$(head -1 "$B/urls-$1.txt")" 2>&1 |
    awk -v n="$1" '/Requests\/sec/{r=$2} / 50%/{p50=$2} / 99%/{p99=$2} /Non-2xx/{e=$NF} END{printf "%-22s req/s %10s  p50 %8s  p99 %8s  non-2xx %s\n", n, r, p50, p99, (e==""?0:e)}'
}
wait_http() { for _ in $(seq 1 600); do curl -sf -o /dev/null "$1" && return 0; sleep 0.5; done; return 1; }
stop() { kill "$1" 2>/dev/null || true; for _ in $(seq 1 20); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.25; done; kill -9 "$1" 2>/dev/null || true; }

if [ "$(sql "SELECT count(*) FROM bando.parcels" 2>/dev/null || true)" != 1000000 ]; then
  echo "== bando import of the 1M parcels into the bench database (once)"
  "$BANDO" import "$B/parcels1m.fgb" --layer parcels --kind cadastral --store "$DB?schema=bando" --replace >/dev/null
fi

"$MARTIN" --listen-addresses 127.0.0.1:3012 --cache-size 0 "$DB" > "$B/martin-pg.log" 2>&1 & martin=$!
wait_http http://127.0.0.1:3012/catalog
# Martin names tables by table name and numbers repeats: find the id of each schema's table.
id_of() { curl -s http://127.0.0.1:3012/catalog | python3 -c "import json,sys; t=json.load(sys.stdin)['tiles']; print(next(k for k,v in t.items() if v.get('description','').startswith('$1.parcels')))"; }
bando_table=$(id_of bando); ogr_table=$(id_of public)
run_wrk "martin bando.parcels" "http://127.0.0.1:3012/$bando_table/{z}/{x}/{y}"
run_wrk "martin public.parcels" "http://127.0.0.1:3012/$ogr_table/{z}/{x}/{y}"
stop $martin

"$BANDO" serve --store "$DB?schema=bando" --addr 127.0.0.1:3013 --no-cache > "$B/bando-pg.log" 2>&1 & bando=$!
trap 'stop $bando' EXIT
wait_http http://127.0.0.1:3013/ready
run_wrk "bando (PostGIS store)" "http://127.0.0.1:3013/tiles/parcels/{z}/{x}/{y}.mvt"
