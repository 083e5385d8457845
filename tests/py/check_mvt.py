#!/usr/bin/env python3
"""Independent check of one bando vector tile against the GeoPackage it came from.
Decodes with mapbox-vector-tile, reads the source with sqlite3 + shapely, projects with its own
Web Mercator code, and checks ids, typed properties, geometry (every vertex within 1 tile unit of
the source geometry) and, with --complete, that every source feature inside the tile is there.
usage: check_mvt.py GPKG LAYER Z X Y TILE_FILE [--complete] [--mvt-layer NAME] [--allow-absent]
Prints a JSON summary; exits non-zero with a message on the first mismatch."""
import json
import math
import sqlite3
import sys

import mapbox_vector_tile
import numpy as np
from shapely import transform, wkb
from shapely.geometry import Point, shape

args = [a for a in sys.argv[1:] if not a.startswith("--")]
gpkg, layer, z, x, y, path = args[0], args[1], int(args[2]), int(args[3]), int(args[4]), args[5]
complete = "--complete" in sys.argv
mvt_layer = sys.argv[sys.argv.index("--mvt-layer") + 1] if "--mvt-layer" in sys.argv else layer
if "--mvt-layer" in sys.argv:
    args.remove(mvt_layer)


def fail(msg):
    sys.exit(f"check_mvt: {msg}")


def to_tile(coords):
    """Web Mercator into this tile's 4096-unit grid, y down (vectorised for shapely.transform)."""
    n = 2 ** z
    lon, lat = coords[:, 0], np.clip(coords[:, 1], -85.0511287798, 85.0511287798)
    wx = (lon + 180.0) / 360.0
    wy = (1.0 - np.arcsinh(np.tan(np.radians(lat))) / math.pi) / 2.0
    return np.column_stack(((wx * n - x) * 4096.0, (wy * n - y) * 4096.0))


def on_clip_edge(c):
    """Clipping to the 64-unit buffer adds vertices on the buffered square."""
    return any(abs(v - edge) <= 1.0 for v in c for edge in (-64.0, 4160.0))


def gpkg_geometry(blob):
    flags = blob[3]
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(flags >> 1) & 7]
    return wkb.loads(bytes(blob[8 + envelope:]))


data = open(path, "rb").read()
tile = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})
if mvt_layer not in tile and "--allow-absent" in sys.argv:
    print(json.dumps({"features": 0, "vertices": 0, "properties": [], "types": []}))
    sys.exit(0)
if mvt_layer not in tile:
    fail(f"layer {mvt_layer} missing; tile has {list(tile)}")
decoded = tile[mvt_layer]
if decoded["extent"] != 4096:
    fail(f"extent {decoded['extent']}")

con = sqlite3.connect(gpkg)
columns = [r[1] for r in con.execute(f'PRAGMA table_info("{layer}")')]
types = {r[1]: r[2].upper() for r in con.execute(f'PRAGMA table_info("{layer}")')}
props = [c for c in columns if c not in ("fid", "geom")]
source = {}
for row in con.execute(f'SELECT fid, geom, {",".join(chr(34) + p + chr(34) for p in props)} FROM "{layer}"'):
    source[row[0]] = (gpkg_geometry(row[1]), dict(zip(props, row[2:])))

seen = set()
vertices = 0
for f in decoded["features"]:
    fid = f["id"]
    if fid in seen:
        fail(f"id {fid} twice")
    seen.add(fid)
    if fid not in source:
        fail(f"id {fid} not in the store")
    geom, attrs = source[fid]
    for k, v in f["properties"].items():
        want = attrs.get(k)
        if types.get(k, "").startswith("BOOL"):
            want = bool(want)
        if isinstance(want, float) or isinstance(v, float):
            ok = want is not None and abs(float(want) - float(v)) < 1e-9
        else:
            ok = want == v and type(want) is type(v)
        if not ok:
            fail(f"feature {fid}: property {k} is {v!r} in the tile, {want!r} in the store")
    for k, want in attrs.items():
        if want is None and k in f["properties"]:
            fail(f"feature {fid}: null property {k} present")
    projected = transform(geom, to_tile)
    target = projected if projected.geom_type in ("Point", "MultiPoint", "LineString", "MultiLineString") else projected.boundary
    tile_geom = shape(f["geometry"])
    coords = []
    for part in getattr(tile_geom, "geoms", [tile_geom]):
        if part.geom_type == "Polygon":
            coords += list(part.exterior.coords) + [c for r in part.interiors for c in r.coords]
        else:
            coords += list(part.coords)
    for c in coords:
        d = target.distance(Point(c))
        if d > 1.0 and on_clip_edge(c) and projected.geom_type.endswith("Polygon"):
            d = projected.distance(Point(c))
        if d > 1.0:
            fail(f"feature {fid}: vertex {c} is {d:.2f} units from the source geometry")
        vertices += 1

missing = []
if complete:
    for fid, (geom, _) in source.items():
        minx, miny, maxx, maxy = transform(geom, to_tile).bounds
        if minx >= 0 and maxx <= 4096 and miny >= 0 and maxy <= 4096 and fid not in seen:
            missing.append(fid)
    if missing:
        fail(f"{len(missing)} source features inside the tile are missing, e.g. {missing[:5]}")
print(json.dumps({"features": len(seen), "vertices": vertices, "properties": sorted({k for f in decoded["features"] for k in f["properties"]}),
                  "types": sorted({f["type"] for f in decoded["features"]})}))
