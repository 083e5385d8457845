#!/usr/bin/env bash
# OGC API Features of bando side by side with pygeoapi (PyPI) in the same run, on the 1M bench
# parcels: items?bbox=...&limit=1000 at random boxes, a CQL2 filter (a box and a land-use code),
# and one item by id (p50 / p99). pygeoapi serves the same GeoPackage as bando (its OGR provider)
# and, for CQL2, which its OGR provider does not take, the same parcels in PostGIS (its
# PostgreSQL provider, the one that evaluates CQL2). It runs under gunicorn with 2 workers (the
# machine's 2 cores); bando is one process.
# Needs the shared bench kit (/work/shared/bench/bench-setup.sh: the parcels as FlatGeobuf and in
# PostGIS, wrk), Debian's python3-gdal (for pygeoapi's OGR provider) and a release build.
# usage: [BANDO=path/to/bando] benches/ogc_pygeoapi.sh [seconds per run]
set -eu
T=${1:-15}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BANDO=${BANDO:-$ROOT/target/release/bando}
KIT=$ROOT/../shared/bench
B=$(dirname "$(mktemp -u)")/bench
W=$B/ogc-bench; mkdir -p $W; cd $W
STORE=$B/ogc1m.gpkg
[ -f $STORE ] || $BANDO import $B/parcels1m.fgb --layer parcels --kind cadastral --store $STORE
# pygeoapi 0.21.0 is the newest release for Debian 12's Python 3.11 (0.22 on need 3.12); the
# system Python, because python3-gdal is built for it.
VENV=$B/pygeoapi-venv
if [ ! -x $VENV/bin/gunicorn ]; then
  /usr/bin/python3 -m venv --system-site-packages $VENV
  $VENV/bin/pip install -q pygeoapi==0.21.0 gunicorn geoalchemy2 psycopg2-binary
fi
BPORT=18511; PPORT=18512
BANDO_BASE=http://127.0.0.1:$BPORT/ogc; PYGEO_BASE=http://127.0.0.1:$PPORT
cat > pygeoapi.yml <<YML
server:
  bind: {host: 127.0.0.1, port: $PPORT}
  url: $PYGEO_BASE
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  language: en-US
  limits: {default_items: 10, max_items: 10000}
  map: {url: "https://tile.openstreetmap.org/{z}/{x}/{y}.png", attribution: OSM}
logging: {level: ERROR}
metadata:
  identification: {title: bench, description: bench, keywords: [bench], url: "http://127.0.0.1", terms_of_service: none}
  license: {name: CC-BY 4.0, url: "https://creativecommons.org/licenses/by/4.0/"}
  provider: {name: bench, url: "http://127.0.0.1"}
  contact: {name: bench, position: bench, address: bench, city: bench, stateorprovince: bench, postalcode: "0", country: VN, phone: "0", fax: "0", email: bench@localhost, url: "http://127.0.0.1", hours: always, instructions: none, role: pointOfContact}
resources:
  parcels:
    type: collection
    title: parcels
    description: the 1M bench parcels from bando's GeoPackage
    keywords: [parcels]
    extents: {spatial: {bbox: [107.45, 16.3, 107.64, 16.48], crs: http://www.opengis.net/def/crs/OGC/1.3/CRS84}}
    providers:
      - type: feature
        name: OGR
        data:
          source_type: GPKG
          source: $STORE
          source_srs: EPSG:4326
          target_srs: EPSG:4326
          source_capabilities: {paging: true}
        id_field: pid
        layer: parcels
  parcels_pg:
    type: collection
    title: parcels (PostGIS)
    description: the same parcels in PostGIS
    keywords: [parcels]
    extents: {spatial: {bbox: [107.45, 16.3, 107.64, 16.48], crs: http://www.opengis.net/def/crs/OGC/1.3/CRS84}}
    providers:
      - type: feature
        name: PostgreSQL
        data: {host: 127.0.0.1, port: 5432, dbname: bench, user: bench, password: bench, search_path: [public]}
        id_field: ogc_fid
        table: parcels
        geom_field: geom
YML
PYGEOAPI_CONFIG=pygeoapi.yml $VENV/bin/pygeoapi openapi generate pygeoapi.yml --output-file openapi.yml
# The same boxes for both: about 1,000 parcels each (32 x 32 of the 20 m grid), in the grid.
python3 - $BANDO_BASE $PYGEO_BASE <<'PY'
import random, sys
bando, pygeo = sys.argv[1:3]
def boxes(seed, n):
    rng = random.Random(seed)
    for _ in range(n):
        w, s = 107.45 + rng.randrange(960) * 0.0001873, 16.30 + rng.randrange(960) * 0.0001797
        yield w, s, w + 0.006, s + 0.00575
def write(name, urls):
    with open(name, "w") as f:
        f.writelines(u + "\n" for u in urls)
q = lambda t: t.replace(" ", "%20").replace("'", "%27").replace("(", "%28").replace(")", "%29").replace(",", "%2C")
box = "{0:.7f},{1:.7f},{2:.7f},{3:.7f}"
poly = "POLYGON(({0:.7f} {1:.7f},{2:.7f} {1:.7f},{2:.7f} {3:.7f},{0:.7f} {3:.7f},{0:.7f} {1:.7f}))"
write("bando-bbox.urls", (f"{bando}/collections/parcels/items?bbox={box.format(*b)}&limit=1000" for b in boxes(1, 60000)))
write("pygeo-bbox.urls", (f"{pygeo}/collections/parcels/items?bbox={box.format(*b)}&limit=1000&f=json" for b in boxes(1, 60000)))
write("pygeo-pg-bbox.urls", (f"{pygeo}/collections/parcels_pg/items?bbox={box.format(*b)}&limit=1000&f=json" for b in boxes(1, 60000)))
# pygeoapi reads a text filter as ECQL (INTERSECTS, no filter-lang): the same predicate in its words.
cql = "{op}({g},{p}) AND {f} = 'ODT'"
write("bando-cql2.urls", (f"{bando}/collections/parcels/items?filter={q(cql.format(op='S_INTERSECTS', g='geometry', f='land_use', p=poly.format(*b)))}&limit=1000" for b in boxes(2, 60000)))
write("pygeo-cql2.urls", (f"{pygeo}/collections/parcels_pg/items?filter={q(cql.format(op='INTERSECTS', g='geom', f='loai_dat', p=poly.format(*b)))}&limit=1000&f=json" for b in boxes(2, 60000)))
rng = random.Random(3)
ids = [rng.randrange(1_000_000) for _ in range(200000)]
write("bando-item.urls", (f"{bando}/collections/parcels/items/{i + 1}" for i in ids))
write("pygeo-item.urls", (f"{pygeo}/collections/parcels_pg/items/{i + 1}?f=json" for i in ids))
PY
$BANDO serve --store $STORE --addr 127.0.0.1:$BPORT > bando.log 2>&1 & BANDO_PID=$!
PYGEOAPI_CONFIG=pygeoapi.yml PYGEOAPI_OPENAPI=openapi.yml \
  $VENV/bin/gunicorn -w 2 -b 127.0.0.1:$PPORT pygeoapi.flask_app:APP > pygeoapi.log 2>&1 & PYGEO_PID=$!
trap 'kill $BANDO_PID $PYGEO_PID' EXIT
until curl -sf http://127.0.0.1:$BPORT/ready > /dev/null; do sleep 0.5; done
until curl -sf "$PYGEO_BASE/collections/parcels?f=json" > /dev/null; do sleep 0.5; done
# All three answer the same box with the same parcels (by pid: bando's import names the fields in
# English and orders features along the R-tree, so fids differ), and the same CQL2 filter alike.
python3 - $BANDO_BASE $PYGEO_BASE <<'PY'
import json, sys, urllib.request
bando, pygeo = sys.argv[1:3]
def pids(url):
    doc = json.load(urllib.request.urlopen(url.replace("limit=1000", "limit=10000")))
    # pygeoapi's OGR provider serves its id_field (pid) as the feature's id.
    return sorted(f["properties"].get("pid", f["id"]) for f in doc["features"])
for kind, ours, theirs in [("bbox", "bando-bbox.urls", "pygeo-bbox.urls"), ("bbox", "bando-bbox.urls", "pygeo-pg-bbox.urls"), ("cql2", "bando-cql2.urls", "pygeo-cql2.urls")]:
    a, b = pids(open(ours).readline().strip()), pids(open(theirs).readline().strip())
    print(f"check {kind} vs {theirs}: bando {len(a)} parcels, pygeoapi {len(b)}, the same parcels: {a == b}")
PY
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
run() { URLS=$2 wrk -t$(( $3 < 2 ? $3 : 2 )) -c$3 -d${T}s --timeout 30s -s $KIT/wrk-urls.lua $1 2>&1 | awk '/Requests\/sec/{rps=$2} /Non-2xx/{bad=$0} /urls=/{print rps, "req/s", $0, bad}'; }
for c in 2 16; do
  echo "bbox c=$c bando:              $(run http://127.0.0.1:$BPORT bando-bbox.urls $c)"
  echo "bbox c=$c pygeoapi OGR/GPKG:  $(run $PYGEO_BASE pygeo-bbox.urls $c)"
  echo "bbox c=$c pygeoapi PostgreSQL: $(run $PYGEO_BASE pygeo-pg-bbox.urls $c)"
  echo "cql2 c=$c bando:              $(run http://127.0.0.1:$BPORT bando-cql2.urls $c)"
  echo "cql2 c=$c pygeoapi PostgreSQL: $(run $PYGEO_BASE pygeo-cql2.urls $c)"
done
echo "item c=1 bando:               $(run http://127.0.0.1:$BPORT bando-item.urls 1)"
echo "item c=1 pygeoapi PostgreSQL: $(run $PYGEO_BASE pygeo-item.urls 1)"
