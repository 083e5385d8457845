#!/usr/bin/env python3
"""Which features of a layer lie in administrative units, worked out from the GeoPackage with
sqlite3 + shapely (not bando's code), by the membership rule of gpkg_units.
usage: scope_oracle.py GPKG LAYER UNIT_LAYER CODE[,CODE...]
Prints the sorted fids of LAYER's features in those units as a JSON list."""
import json
import sqlite3
import sys

from gpkg_units import geometry, holder, units

gpkg, layer, unit_layer, codes = sys.argv[1], sys.argv[2], sys.argv[3], set(sys.argv[4].split(","))

con = sqlite3.connect(gpkg)
unit_list = units(con, unit_layer)
inside = []
for fid, blob in con.execute(f'SELECT fid, geom FROM "{layer}" ORDER BY fid'):
    unit = holder(unit_list, geometry(blob))
    if unit is not None and unit[2] in codes:
        inside.append(fid)
print(json.dumps(inside))
