#!/usr/bin/env bash
# Import throughput of two bando binaries on the same file, rounds alternating so that machine
# load hits both alike: wall seconds, CPU seconds (user + sys, steadier on a busy machine),
# features/s and peak RSS per run, then the means and the ratio B/A.
# usage: benches/import_ab.sh BANDO_A BANDO_B [FILE] [ROUNDS]
#        FILE defaults to foundation.sh's 1M-parcel FlatGeobuf ($TMP/bench/parcels1m.fgb).
set -euo pipefail
A=$1 B=$2
TMP=$(dirname "$(mktemp -u)")
FILE=${3:-$TMP/bench/parcels1m.fgb}
ROUNDS=${4:-4}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
for round in $(seq "$ROUNDS"); do
  for side in A B; do
    bin=${!side}
    /usr/bin/time -o "$OUT/time" -f "%e %U %S %M" "$bin" import "$FILE" --layer parcels --kind cadastral \
      --store "$OUT/$side.gpkg" --json >"$OUT/summary.json" 2>/dev/null
    read -r wall user sys rss <"$OUT/time"
    written=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['written'])" "$OUT/summary.json")
    echo "$side $round $wall $(echo "$user + $sys" | bc) $written $rss" | tee -a "$OUT/runs"
    rm -f "$OUT/$side".gpkg*
  done
done
awk '{wall[$1]+=$3; cpu[$1]+=$4; n[$1]++; f[$1]=$5}
  END {for (s in n) printf "%s: mean %.2f s wall, %.2f s CPU, %.0f features/s\n", s, wall[s]/n[s], cpu[s]/n[s], f[s]*n[s]/wall[s];
       printf "B/A: wall %.3f, CPU %.3f\n", wall["B"]/wall["A"], cpu["B"]/cpu["A"]}' "$OUT/runs"
