#!/usr/bin/env python3
"""The point features of one layer of a vector tile, decoded by mapbox-vector-tile (not bando's
code), as pixel positions on a picture of the tile SIZE pixels across (y down).
usage: tile_points.py TILE_FILE LAYER SIZE  ->  [[x, y], ...] as JSON"""
import json
import sys

import mapbox_vector_tile

data = open(sys.argv[1], "rb").read()
layer, size = sys.argv[2], float(sys.argv[3])
decoded = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True}) if data else {}
points = []
for f in decoded.get(layer, {}).get("features", []):
    g = f["geometry"]
    coords = [g["coordinates"]] if g["type"] == "Point" else g["coordinates"] if g["type"] == "MultiPoint" else []
    extent = decoded[layer].get("extent", 4096)
    for x, y in coords:
        if 0 <= x < extent and 0 <= y < extent:
            points.append([x * size / extent, y * size / extent])
print(json.dumps(points))
