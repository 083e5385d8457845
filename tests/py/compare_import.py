"""Compares what bando stored with GDAL's own 2D reading of the same source, feature by feature.

usage: compare_import.py REFERENCE.geojson STORED.geojson [--footprint] [--min-vertices N]

REFERENCE is `ogr2ogr -dim XY -t_srs EPSG:4326` of the source, STORED is `ogr2ogr` of the layer
bando wrote (both read by GDAL, neither by bando). Features are matched in order (bando keeps the
source order). Polygons must agree in area within 0.1% and differ by under 0.1% of their area;
lines and points must lie within 1e-7 degrees (about 1 cm). --footprint takes the reference as
faces of a solid: its footprint is the union of the faces that cover ground. --min-vertices
checks that every stored geometry has at least N vertices (a curve linearised finely enough).
Prints a JSON summary; exits 1 naming the first feature that differs.
"""

import json
import sys

import shapely
from shapely.geometry import shape
from shapely.ops import unary_union

AREA_TOLERANCE = 1e-3
DISTANCE_TOLERANCE = 1e-7


def features(path):
    with open(path, encoding="utf-8") as f:
        return [shape(feature["geometry"]) for feature in json.load(f)["features"]]


def footprint(g):
    faces = [p for p in getattr(g, "geoms", [g]) if p.area > 0]
    return unary_union(faces)


def differs(ref, got):
    """None when the two agree, else why not."""
    if ref.geom_type.endswith("Polygon") or (ref.geom_type == "GeometryCollection" and ref.area > 0):
        if not got.geom_type.endswith("Polygon"):
            return f"stored a {got.geom_type} for a {ref.geom_type}"
        if not got.is_valid:
            return f"stored polygon is invalid: {shapely.is_valid_reason(got)}"
        if abs(got.area - ref.area) > AREA_TOLERANCE * ref.area:
            return f"area {got.area} vs {ref.area}"
        if ref.symmetric_difference(got).area > AREA_TOLERANCE * ref.area:
            return f"shapes differ by {ref.symmetric_difference(got).area / ref.area:.2%} of the area"
        return None
    distance = shapely.hausdorff_distance(ref, got)
    if distance > DISTANCE_TOLERANCE:
        return f"{got.geom_type} lies {distance} degrees from the {ref.geom_type}"
    return None


def main():
    args = sys.argv[1:]
    use_footprint = "--footprint" in args
    min_vertices = int(args[args.index("--min-vertices") + 1]) if "--min-vertices" in args else 0
    reference, stored = features(args[0]), features(args[1])
    if len(reference) != len(stored):
        sys.exit(f"{len(stored)} stored features for {len(reference)} in the source")
    for i, (ref, got) in enumerate(zip(reference, stored)):
        if use_footprint:
            ref = footprint(ref)
        why = differs(ref, got)
        if why is None and shapely.get_num_coordinates(got) < min_vertices:
            why = f"only {shapely.get_num_coordinates(got)} vertices (expected at least {min_vertices})"
        if why:
            sys.exit(f"feature {i}: {why}")
    print(json.dumps({"features": len(stored), "area": sum(g.area for g in stored)}))


if __name__ == "__main__":
    main()
