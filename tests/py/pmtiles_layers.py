#!/usr/bin/env python3
"""What a PMTiles archive of vector tiles holds, read with the `pmtiles` reader and decoded by
mapbox-vector-tile (not bando's code): per tile layer over every tile of the archive, the number
of features drawn, their ids, the union of their property names and each feature's properties
by id (the deepest zoom's); and the archive metadata's vector_layers.
usage: pmtiles_layers.py ARCHIVE
Prints {"layers": {"LAYER": {"features": N, "ids": [...], "properties": [...], "values": {...}}},
"vector_layers": [...]} as JSON."""
import gzip
import json
import sys

import mapbox_vector_tile
from pmtiles.reader import MmapSource, Reader, all_tiles

with open(sys.argv[1], "rb") as f:
    source = MmapSource(f)
    metadata = Reader(source).metadata()
    layers = {}
    for (z, _, _), data in sorted(all_tiles(source), key=lambda t: t[0][0]):
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        for name, layer in mapbox_vector_tile.decode(data).items():
            seen = layers.setdefault(name, {"features": 0, "ids": set(), "properties": set(), "values": {}})
            for feature in layer["features"]:
                seen["features"] += 1
                seen["ids"].add(feature["id"])
                seen["properties"].update(feature["properties"])
                seen["values"][str(feature["id"])] = feature["properties"]
out = {
    name: {**seen, "ids": sorted(seen["ids"]), "properties": sorted(seen["properties"])}
    for name, seen in layers.items()
}
print(json.dumps({"layers": out, "vector_layers": metadata.get("vector_layers", [])}))
