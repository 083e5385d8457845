"""Checks that two stores hold the same layer, read by GDAL (ogr2ogr to GeoJSON), not by bando.

usage: same_layer.py A.geojson B.geojson

Both files are `ogr2ogr -preserve_fid -lco COORDINATE_PRECISION=17` of the layer in each store.
The features must have the same ids in the same order, the same properties, and the same
geometry: topologically equal (shapely), with exactly the same coordinates (a polygon and a
multipolygon of that one polygon count as the same: a PostGIS MULTI column holds it so).
Prints a JSON summary; exits 1 naming the first feature that differs.
"""

import json
import sys

import numpy
import shapely
from shapely.geometry import shape


def features(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)["features"]


def main(a_path, b_path):
    a, b = features(a_path), features(b_path)
    if len(a) != len(b):
        sys.exit(f"{len(a)} features in {a_path}, {len(b)} in {b_path}")
    for fa, fb in zip(a, b):
        if fa.get("id") != fb.get("id"):
            sys.exit(f"feature id {fa.get('id')} against {fb.get('id')}")
        if fa["properties"] != fb["properties"]:
            sys.exit(f"feature {fa.get('id')}: properties {fa['properties']} against {fb['properties']}")
        ga, gb = shape(fa["geometry"]), shape(fb["geometry"])
        same_points = numpy.array_equal(shapely.get_coordinates(ga), shapely.get_coordinates(gb))
        if not (same_points and shapely.equals(ga, gb)):
            sys.exit(f"feature {fa.get('id')}: geometry {ga.wkt[:80]} against {gb.wkt[:80]}")
    print(json.dumps({"features": len(a), "same": True}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
