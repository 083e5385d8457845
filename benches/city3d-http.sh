#!/usr/bin/env bash
# Uncached 3D tiles over HTTP: time to tileset.json and to leaf tiles of a running `bando serve
# --no-cache` (every request is built from the in-memory layer and gzipped, nothing is reused:
# each tile request rebuilds the variant's tile tree too). With CACHE=on the server keeps its
# caches and every tile is asked for once: a response-cache miss on a memoised tile tree, what a
# client meets after loading tileset.json. curl asks for gzip as browsers do, sizes are the
# compressed bytes sent.
#   [CACHE=on] benches/city3d-http.sh /tmp/demo1m.gpkg [PORT]
set -euo pipefail
cd "$(dirname "$0")/.."
store=$1
port=${2:-18480}
base=http://127.0.0.1:$port
cache_flag=--no-cache
[ "${CACHE:-off}" = on ] && cache_flag=
# shellcheck disable=SC2086 # an empty flag must vanish
./target/release/bando serve --store "$store" --addr 127.0.0.1:"$port" $cache_flag --tilesets /nonexistent >/dev/null 2>&1 &
pid=$!
trap 'kill $pid' EXIT
for _ in $(seq 1 240); do curl -sf "$base/ready" >/dev/null && break; sleep 0.25; done
tmp=$(mktemp -d)
for i in 1 2 3 4 5; do
  curl -s --compressed -o "$tmp/tileset.json" -w "tileset.json #$i: %{time_total} s, %{size_download} bytes\n" "$base/3d/buildings/tileset.json"
done
python3 - "$tmp/tileset.json" >"$tmp/leaves" <<'PY'
import json, random, sys
t = json.load(open(sys.argv[1]))
def leaves(n):
    if "content" in n and not n.get("children"): yield n["content"]["uri"]
    for c in n.get("children", []): yield from leaves(c)
ls = list(leaves(t["root"])); random.seed(7)
print("\n".join(random.sample(ls, min(50, len(ls)))))
PY
while read -r uri; do curl -s --compressed -o /dev/null -w "%{time_total} %{size_download}\n" "$base/3d/buildings/$uri"; done <"$tmp/leaves" \
  | sort -n | awk '{a[NR]=$1; b+=$2} END {printf "leaf tiles (n=%d, random): p50 %.1f ms, p90 %.1f ms, max %.1f ms, mean %.0f kB\n", NR, a[int(NR/2)+1]*1000, a[int(NR*0.9)]*1000, a[NR]*1000, b/NR/1024}'
curl -s --compressed -o /dev/null -w "root tile r.glb (the N biggest buildings): %{time_total} s, %{size_download} bytes\n" "$base/3d/buildings/tiles/r.glb"
rm -rf "$tmp"
