#!/usr/bin/env python3
"""What a vector tile holds, decoded by mapbox-vector-tile (not bando's code): per layer, the
number of features, their ids and the union of their property names.
usage: mvt_layers.py TILE_FILE   (an empty file is a tile with no layers)
Prints {"LAYER": {"features": N, "ids": [...], "properties": [...]}, ...} as JSON."""
import json
import sys

import mapbox_vector_tile

data = open(sys.argv[1], "rb").read()
decoded = mapbox_vector_tile.decode(data) if data else {}
print(json.dumps({
    name: {
        "features": len(layer["features"]),
        "ids": sorted(f["id"] for f in layer["features"]),
        "properties": sorted({k for f in layer["features"] for k in f["properties"]}),
    }
    for name, layer in decoded.items()
}))
