#!/usr/bin/env bash
# Server-side rendering (issue 15), uncached (`serve --no-cache`), over HTTP on one run:
#  - rendered scenario raster tiles at z14 (target: p50 at most 30 ms on the 1M demo): every
#    z14 tile over the middle of the parcels layer (a 5 x 5 block), each fetched once per round;
#  - the meeting report PDF of one ward (target: at most 2 s), ROUNDS times.
# usage: benches/render.sh [STORE.gpkg] [rounds]
# Without a store it builds the 1M-parcel demo province once ($TMPDIR/bench/demo1m.gpkg).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$(dirname "$(mktemp -u)")/bench; mkdir -p "$B"
STORE=${1:-$B/demo1m.gpkg}
ROUNDS=${2:-3}
BANDO=${BANDO:-$ROOT/target/release/bando}
[ -n "${BANDO_PREBUILT:-}" ] || (cd "$ROOT" && cargo build --release --quiet)
[ -f "$STORE" ] || "$BANDO" demo --parcels 1000000 --store "$STORE"

PORT=18541
(cd "$ROOT" && exec "$BANDO" serve --store "$STORE" --addr 127.0.0.1:$PORT --no-cache > "$B/render.log" 2>&1) & SERVER=$!
trap 'kill $SERVER 2>/dev/null' EXIT
for _ in $(seq 240); do curl -sf http://127.0.0.1:$PORT/ready > /dev/null && break; sleep 0.5; done

python3 - "$PORT" "$ROUNDS" <<'EOF'
import json, math, statistics, sys, time, urllib.request

port, rounds = sys.argv[1], int(sys.argv[2])
base = f"http://127.0.0.1:{port}"


def get(path):
    started = time.perf_counter()
    with urllib.request.urlopen(base + path) as r:
        body = r.read()
        status = r.status
    return status, body, (time.perf_counter() - started) * 1000


def summary(name, ms):
    ms = sorted(ms)
    p = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]
    print(f"| {name} | {len(ms)} | {p(0.5):.1f} | {p(0.9):.1f} | {ms[-1]:.1f} |")


b = json.loads(urllib.request.urlopen(base + "/layers/parcels").read())["bbox"]
lon, lat, z = (b["west"] + b["east"]) / 2, (b["south"] + b["north"]) / 2, 14
cx = int((lon + 180) / 360 * 2**z)
cy = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
tiles = [(cx + dx, cy + dy) for dx in range(-2, 3) for dy in range(-2, 3)]
wards = json.loads(urllib.request.urlopen(base + "/scenarios/land_management/indicators").read())
ward = max(wards["indicators"][0]["units"], key=lambda u: u.get("features") or 0)["code"]

print("| what | requests | p50 ms | p90 ms | max ms |")
print("|---|---|---|---|---|")
for scenario in ("land_management", "construction_planning", "basemap"):
    ms = []
    for _ in range(rounds):
        for x, y in tiles:
            status, body, t = get(f"/scenarios/{scenario}/raster/{z}/{x}/{y}.png")
            assert status == 200 and body[:4] == b"\x89PNG", (scenario, x, y, status)
            ms.append(t)
    summary(f"raster tile z14 256 px PNG, {scenario}", ms)
ms = []
for _ in range(rounds):
    status, body, t = get(f"/reports/land_management.pdf?unit=wards:{ward}")
    assert status == 200 and body[:5] == b"%PDF-", status
    ms.append(t)
summary(f"report PDF, ward {ward} (the one with most parcels)", ms)
EOF
