#!/usr/bin/env python3
"""What a vector tile holds, decoded by mapbox-vector-tile (not bando's code): per layer, the
number of features, their ids, the union of their property names, and with --values each
feature's properties by id.
usage: mvt_layers.py [--values] TILE_FILE   (an empty file is a tile with no layers)
Prints {"LAYER": {"features": N, "ids": [...], "properties": [...], "values": {...}}, ...} as JSON."""
import json
import sys

import mapbox_vector_tile

args = sys.argv[1:]
values = "--values" in args
path = [a for a in args if a != "--values"][0]
data = open(path, "rb").read()
decoded = mapbox_vector_tile.decode(data) if data else {}
out = {}
for name, layer in decoded.items():
    out[name] = {
        "features": len(layer["features"]),
        "ids": sorted(f["id"] for f in layer["features"]),
        "properties": sorted({k for f in layer["features"] for k in f["properties"]}),
    }
    if values:
        out[name]["values"] = {str(f["id"]): f["properties"] for f in layer["features"]}
print(json.dumps(out))
