#!/usr/bin/env python3
"""4 x 4 jittered wards over the 1M-parcel bench grid (GeoJSON to stdout)."""
import json, math, random
rng = random.Random(5)
lon0, lat0 = 107.45, 16.30
dlat = 20.0 / 111320.0
dlon = 20.0 / (111320.0 * math.cos(math.radians(lat0)))
m = 0.002
w, s, e, n = lon0 - m, lat0 - m, lon0 + 1000 * dlon + m, lat0 + 1000 * dlat + m
k = 4
dx, dy = (e - w) / k, (n - s) / k
c = [[(w + i * dx + (rng.uniform(-.2, .2) * dx if 0 < i < k and 0 < j < k else 0),
       s + j * dy + (rng.uniform(-.2, .2) * dy if 0 < i < k and 0 < j < k else 0)) for i in range(k + 1)] for j in range(k + 1)]
feats = []
for j in range(k):
    for i in range(k):
        ring = [c[j][i], c[j][i + 1], c[j + 1][i + 1], c[j + 1][i], c[j][i]]
        feats.append({"type": "Feature", "properties": {"code": str(30000 + j * k + i), "name": f"Ward {j * k + i}"},
                      "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}})
print(json.dumps({"type": "FeatureCollection", "features": feats}))
