#!/usr/bin/env python3
"""Which features of a layer lie in administrative units, worked out from the GeoPackage with
sqlite3 + shapely (not bando's code): a feature belongs to the unit whose polygon covers its
centroid, the lowest fid when several do (the rule bando's statistics and area scopes state).
usage: scope_oracle.py GPKG LAYER UNIT_LAYER CODE[,CODE...]
Prints the sorted fids of LAYER's features in those units as a JSON list."""
import json
import sqlite3
import sys

from shapely import wkb

gpkg, layer, unit_layer, codes = sys.argv[1], sys.argv[2], sys.argv[3], set(sys.argv[4].split(","))


def geometry(blob):
    flags = blob[3]
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(flags >> 1) & 7]
    return wkb.loads(bytes(blob[8 + envelope:]))


con = sqlite3.connect(gpkg)
units = [(fid, geometry(g), str(code)) for fid, g, code in con.execute(f'SELECT fid, geom, code FROM "{unit_layer}" ORDER BY fid')]
inside = []
for fid, blob in con.execute(f'SELECT fid, geom FROM "{layer}" ORDER BY fid'):
    centroid = geometry(blob).centroid
    holder = next((code for _, shape, code in units if shape.covers(centroid)), None)
    if holder in codes:
        inside.append(fid)
print(json.dumps(inside))
