#!/usr/bin/env python3
"""A layer's figures per administrative unit, worked out from the GeoPackage with sqlite3 +
shapely (not bando's code), by the membership rule of gpkg_units: per unit, how many of the
layer's features it holds and the sum of a numeric field, counting only the features whose
field FILTER_FIELD is true (when given).
usage: aggregate_oracle.py GPKG LAYER UNIT_LAYER SUM_FIELD [FILTER_FIELD]
Prints {"<unit fid>": {"code": ..., "count": N, "sum": S}} for every unit, as JSON."""
import json
import sqlite3
import sys

from gpkg_units import geometry, holder, units

gpkg, layer, unit_layer, sum_field = sys.argv[1:5]
filter_field = sys.argv[5] if len(sys.argv) > 5 else None

con = sqlite3.connect(gpkg)
unit_list = units(con, unit_layer)
figures = {str(fid): {"code": code, "count": 0, "sum": 0} for fid, _, code in unit_list}
columns = f'geom, "{sum_field}"' + (f', "{filter_field}"' if filter_field else "")
for row in con.execute(f'SELECT {columns} FROM "{layer}" ORDER BY fid'):
    if filter_field and not row[2]:
        continue
    unit = holder(unit_list, geometry(row[0]))
    if unit is not None:
        figures[str(unit[0])]["count"] += 1
        figures[str(unit[0])]["sum"] += row[1] or 0
print(json.dumps(figures))
