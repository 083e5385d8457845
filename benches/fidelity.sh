#!/usr/bin/env bash
# Renderer fidelity (issue 15): bando's static map of a view next to MapLibre GL JS drawing the
# same style in Debian's headless chromium (tests/js/maplibre_snapshot.mjs, the oracle), compared
# outside bando by tests/py/picture_compare.py: the share of pixels within a colour distance of
# 32 (target >= 0.97) and the SSIM of luminance (target >= 0.9). Every scenario, at its centre,
# at 3 zooms, 512 x 512 CSS pixels, pixel ratio 1.
# usage: benches/fidelity.sh [STORE.gpkg] [zooms, default "13 15 17"]
# Without a store it builds the 20,000-parcel demo province once ($TMPDIR/bench/demo20k.gpkg).
# Pictures land in $TMPDIR/bench/fidelity/ (bando-<scenario>-<zoom>.png beside MapLibre's).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$(dirname "$(mktemp -u)")/bench; mkdir -p "$B/fidelity"
STORE=${1:-$B/demo20k.gpkg}
ZOOMS=${2:-13 15 17}
BANDO=${BANDO:-$ROOT/target/release/bando}
[ -n "${BANDO_PREBUILT:-}" ] || (cd "$ROOT" && cargo build --release --quiet)
[ -f "$STORE" ] || "$BANDO" demo --parcels 20000 --store "$STORE"

PORT=18542
(cd "$ROOT" && exec "$BANDO" serve --store "$STORE" --addr 127.0.0.1:$PORT > "$B/fidelity.log" 2>&1) & SERVER=$!
trap 'kill $SERVER 2>/dev/null' EXIT
for _ in $(seq 240); do curl -sf http://127.0.0.1:$PORT/ready > /dev/null && break; sleep 0.5; done
BASE=http://127.0.0.1:$PORT

# scenario:lon,lat,zoom for every scenario with a style, at its centre.
VIEWS=$(curl -sf $BASE/scenarios | python3 -c '
import json, sys
body = json.load(sys.stdin)
zooms = sys.argv[1].split()
for s in body if isinstance(body, list) else body["scenarios"]:
    if s.get("style") or s.get("style_url"):
        lon, lat = s.get("center", [107.585, 16.463])[:2]
        name = s["id"]
        for z in zooms:
            print(f"{name}:{lon},{lat},{z}:512x512")' "$ZOOMS")
node "$ROOT/tests/js/maplibre_snapshot.mjs" $BASE "$B/fidelity" $VIEWS > "$B/fidelity-maplibre.log" || {
  cat "$B/fidelity-maplibre.log" >&2; echo "MapLibre could not draw every view" >&2; }

echo "| scenario | zoom | pixels within 32 | SSIM | both targets |"
echo "|---|---|---|---|---|"
for view in $VIEWS; do
  scenario=${view%%:*}; place=${view#*:}; place=${place%%:*}; zoom=${place##*,}
  oracle="$B/fidelity/$scenario-$zoom.png"; ours="$B/fidelity/bando-$scenario-$zoom.png"
  [ -f "$oracle" ] || { echo "| $scenario | $zoom | (no MapLibre picture) | | |"; continue; }
  curl -sf -o "$ours" "$BASE/scenarios/$scenario/static/$place/512x512.png"
  python3 "$ROOT/tests/py/picture_compare.py" "$oracle" "$ours" --within 32 | python3 -c '
import json, sys
r = json.load(sys.stdin)
ok = "yes" if r["within"] >= 0.97 and r["ssim"] >= 0.9 else "no"
within, ssim = r["within"], r["ssim"]
print(f"| {sys.argv[1]} | {sys.argv[2]} | {within:.4f} | {ssim:.4f} | {ok} |")' "$scenario" "$zoom"
done
