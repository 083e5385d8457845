#!/usr/bin/env python3
"""Writes OUT.pmtiles with the protomaps Python writer (pip `pmtiles`): the same COUNT z14 tiles
as benches/pmtiles_read.rs writes with bando's writer (a square block over Huế, each gzipped
"tile {z}/{x}/{y}"), so the two readers can be measured on either writer's leaf layout.
usage: pmtiles_protomaps.py OUT.pmtiles COUNT"""
import gzip
import math
import sys

from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

out, count = sys.argv[1], int(sys.argv[2])
side = math.ceil(math.sqrt(count))
x0, y0 = 13080, 7480
tiles = sorted((zxy_to_tileid(14, x0 + i % side, y0 + i // side), (14, x0 + i % side, y0 + i // side)) for i in range(count))
with open(out, "wb") as f:
    writer = Writer(f)
    for tile_id, (z, x, y) in tiles:
        writer.write_tile(tile_id, gzip.compress(f"tile {z}/{x}/{y}".encode()))
    e7 = lambda v: int(v * 1e7)
    writer.finalize(
        {
            "tile_type": TileType.MVT,
            "tile_compression": Compression.GZIP,
            "min_zoom": 14,
            "max_zoom": 14,
            "min_lon_e7": e7(107.4),
            "min_lat_e7": e7(16.3),
            "max_lon_e7": e7(107.7),
            "max_lat_e7": e7(16.6),
            "center_zoom": 14,
            "center_lon_e7": e7(107.55),
            "center_lat_e7": e7(16.45),
        },
        {"name": "bench"},
    )
