"""Independent checks of a 3D Tiles 1.1 tileset of LoD1 buildings that validators do not make.

    python3 tests/py/check_3dtiles.py TILESET_DIR STORE.gpkg LAYER [--storey 3.3] [--default 3.3] [--sample N]

TILESET_DIR holds tileset.json and the content files it names. Checks:
  * the required 3D Tiles 1.1 properties (asset.version "1.1", geometricError, root.refine,
    region volumes of 6 numbers in radians); with BANDO_3DTILES_SCHEMAS=<spec>/schema set, also
    the spec's JSON schemas (jsonschema, draft 2020-12);
  * content at every tile (so every level shows buildings), child volumes inside parents,
    geometric error never growing from parent to child and 0 at leaves;
  * every vertex inside its tile's region, after node translation and the y-up to z-up rotation,
    converted ECEF -> WGS84 by PROJ (pyproj), not by bando's own formulas;
  * every vertex within 0.1 m of its building's footprint boundary (read from the GeoPackage with
    shapely, in the layer's UTM zone) and at its base or top height (recomputed from the
    attributes);
  * each building in exactly one tile, and every building of the layer present;
  * every property table against EXT_structural_metadata (which gltf-validator does not know):
    required properties present, no unknown ones, views of at least one byte on 8-byte
    boundaries, lengths that match the count and type, string offsets from 0 to the end of the
    values, non-decreasing, cutting valid UTF-8; feature ids below the table's count.
Prints a JSON summary; exits non-zero with the first failures.
"""
import argparse
import json
import os
import sqlite3
import struct
import sys

import numpy as np
import pyproj
import shapely

TOL_RAD = 1e-9  # ~6 mm
TOL_H = 0.01
TOL_FOOTPRINT_M = 0.1
TOL_HEIGHT_M = 0.05

failures = []


def fail(msg):
    failures.append(msg)
    if len(failures) > 20:
        finish({})


def finish(summary):
    summary["failures"] = failures[:20]
    print(json.dumps(summary))
    sys.exit(1 if failures else 0)


def gpkg_wkb(blob):
    flags = blob[3]
    env = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(flags >> 1) & 7]
    return bytes(blob[8 + env:])


def expected_heights(floors, height, base, storey, default):
    ok = lambda h: h is not None and 0 < h <= 1000
    if ok(height):
        top = height
    elif floors is not None and ok(floors * storey):
        top = floors * storey
    else:
        top = default
    base = base if (base is not None and 0 <= base < top) else 0.0
    return base, top


def read_glb(path):
    data = open(path, "rb").read()
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    assert magic == b"glTF" and version == 2 and length == len(data), f"{path}: bad GLB header"
    jlen, jtype = struct.unpack_from("<I4s", data, 12)
    gltf = json.loads(data[20:20 + jlen])
    blen, btype = struct.unpack_from("<I4s", data, 20 + jlen)
    assert btype == b"BIN\0"
    return gltf, data[28 + jlen:28 + jlen + blen]


def accessor_array(gltf, binary, index):
    acc = gltf["accessors"][index]
    view = gltf["bufferViews"][acc["bufferView"]]
    dtype = {5126: "<f4", 5123: "<u2", 5125: "<u4"}[acc["componentType"]]
    width = {"SCALAR": 1, "VEC3": 3}[acc["type"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    arr = np.frombuffer(binary, dtype=dtype, count=acc["count"] * width, offset=start)
    return arr.reshape(-1, width) if width > 1 else arr


SCALAR_BYTES = {"INT8": 1, "UINT8": 1, "INT16": 2, "UINT16": 2, "INT32": 4, "UINT32": 4,
                "INT64": 8, "UINT64": 8, "FLOAT32": 4, "FLOAT64": 8}
OFFSET_DTYPES = {"UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8"}


def metadata_view(uri, gltf, binary, index, what):
    view = gltf["bufferViews"][index]
    start, length = view.get("byteOffset", 0), view["byteLength"]
    if length < 1:
        fail(f"{uri}: {what}: buffer view {index} has byteLength {length} (glTF needs >= 1)")
    if start % 8:
        fail(f"{uri}: {what}: buffer view {index} starts at {start}, not on an 8-byte boundary")
    if start + length > len(binary):
        fail(f"{uri}: {what}: buffer view {index} runs past the binary chunk")
    return binary[start:start + length]


def check_property_table(uri, gltf, binary):
    meta = gltf["extensions"]["EXT_structural_metadata"]
    for table in meta["propertyTables"]:
        declared = meta["schema"]["classes"][table["class"]]["properties"]
        count = table["count"]
        if count < 1:
            fail(f"{uri}: property table count {count}")
        for pid, prop in declared.items():
            if prop.get("required") and pid not in table["properties"]:
                fail(f"{uri}: required property {pid} missing from the table")
        for pid, entry in table["properties"].items():
            prop = declared.get(pid)
            if prop is None:
                fail(f"{uri}: table property {pid} is not in the class")
                continue
            values = metadata_view(uri, gltf, binary, entry["values"], pid)
            kind = prop["type"]
            if kind == "SCALAR":
                expected = count * SCALAR_BYTES[prop["componentType"]]
            elif kind == "BOOLEAN":
                expected = -(-count // 8)
            elif kind == "STRING":
                expected = len(values)
                dtype = OFFSET_DTYPES[entry.get("stringOffsetType", "UINT32")]
                offsets = np.frombuffer(metadata_view(uri, gltf, binary, entry["stringOffsets"], pid + " offsets"), dtype=dtype)
                if len(offsets) != count + 1 or offsets[0] != 0 or offsets[-1] != len(values) or (np.diff(offsets.astype(np.int64)) < 0).any():
                    fail(f"{uri}: {pid}: {len(offsets)} string offsets for {count} rows, from {offsets[:1]} to {offsets[-1:]}, values {len(values)} bytes")
                else:
                    for a, b in zip(offsets[:-1], offsets[1:]):
                        try:
                            values[a:b].decode("utf-8")
                        except UnicodeDecodeError:
                            fail(f"{uri}: {pid}: a string is not UTF-8")
                            break
            else:
                fail(f"{uri}: {pid}: unexpected property type {kind}")
                continue
            if len(values) != expected:
                fail(f"{uri}: {pid}: {len(values)} bytes of values for {count} rows of {kind} {prop.get('componentType', '')}")
    return meta["propertyTables"][0]["count"]


def walk(tile, parent, depth, out):
    region = tile.get("boundingVolume", {}).get("region")
    if not (isinstance(region, list) and len(region) == 6 and all(isinstance(v, (int, float)) for v in region)):
        fail(f"tile at depth {depth}: boundingVolume.region must be 6 numbers, got {region}")
        return
    w, s, e, n, lo, hi = region
    if not (-np.pi <= w <= e <= np.pi and -np.pi / 2 <= s <= n <= np.pi / 2 and lo <= hi):
        fail(f"region {region} is not radians west<=east, south<=north, min<=max height")
    if not isinstance(tile.get("geometricError"), (int, float)) or tile["geometricError"] < 0:
        fail(f"tile {region}: geometricError missing or negative")
    if parent is not None:
        pw, ps, pe, pn, plo, phi = parent["boundingVolume"]["region"]
        if not (w >= pw - TOL_RAD and e <= pe + TOL_RAD and s >= ps - TOL_RAD and n <= pn + TOL_RAD and lo >= plo - TOL_H and hi <= phi + TOL_H):
            fail(f"child region {region} not inside parent {parent['boundingVolume']['region']}")
        if tile["geometricError"] > parent["geometricError"]:
            fail(f"geometricError grows: parent {parent['geometricError']} child {tile['geometricError']}")
    if not tile.get("children") and tile.get("geometricError") != 0:
        fail(f"leaf tile {region} has geometricError {tile.get('geometricError')}, not 0")
    if "content" in tile:
        out.append((tile["content"]["uri"], region, depth))
    else:
        fail(f"tile at depth {depth} has no content: that level would show nothing")
    for child in tile.get("children", []):
        walk(child, tile, depth + 1, out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("store")
    ap.add_argument("layer")
    ap.add_argument("--storey", type=float, default=3.3)
    ap.add_argument("--default", type=float, default=3.3)
    ap.add_argument("--sample", type=int, default=0, help="check only this many content tiles, spread over the tileset (no completeness check)")
    args = ap.parse_args()

    tileset = json.load(open(os.path.join(args.dir, "tileset.json")))
    schemas = os.environ.get("BANDO_3DTILES_SCHEMAS")
    schema_checked = False
    if schemas:
        import jsonschema
        from referencing import Registry
        from referencing.jsonschema import DRAFT202012
        registry = Registry()
        for root, _, files in os.walk(schemas):
            for f in files:
                if f.endswith(".schema.json"):
                    doc = json.load(open(os.path.join(root, f)))
                    rel = os.path.relpath(os.path.join(root, f), schemas)
                    resource = DRAFT202012.create_resource(doc)
                    registry = registry.with_resource(rel, resource).with_resource(doc.get("$id", rel), resource)
        top = json.load(open(os.path.join(schemas, "tileset.schema.json")))
        validator = jsonschema.Draft202012Validator(top, registry=registry)
        for err in validator.iter_errors(tileset):
            fail(f"schema: {'/'.join(map(str, err.absolute_path))}: {err.message}")
        schema_checked = True

    if tileset.get("asset", {}).get("version") != "1.1":
        fail("asset.version must be '1.1'")
    if not isinstance(tileset.get("geometricError"), (int, float)):
        fail("top-level geometricError is required")
    root = tileset.get("root", {})
    if root.get("refine") not in ("ADD", "REPLACE"):
        fail("root.refine is required (ADD or REPLACE)")
    if isinstance(tileset.get("geometricError"), (int, float)) and tileset["geometricError"] < root.get("geometricError", 0):
        fail("tileset geometricError smaller than the root's")
    contents = []
    walk(root, None, 0, contents)
    levels = len({depth for _, _, depth in contents})
    if args.sample and args.sample < len(contents):
        contents = contents[:: max(1, len(contents) // args.sample)][: args.sample]

    # Truth from the GeoPackage.
    db = sqlite3.connect(f"file:{args.store}?mode=ro", uri=True)
    columns = {r[1] for r in db.execute(f'PRAGMA table_info("{args.layer}")')}
    pick = lambda c: f'"{c}"' if c in columns else "NULL"
    rows = db.execute(f'SELECT fid, geom, {pick("floors")}, {pick("height_m")}, {pick("base_height_m")} FROM "{args.layer}"').fetchall()
    geoms = {fid: shapely.from_wkb(gpkg_wkb(g)) for fid, g, *_ in rows}
    heights = {fid: expected_heights(fl, h, b, args.storey, args.default) for fid, _, fl, h, b in rows}
    lon0 = np.mean([g.centroid.x for g in geoms.values()]) if geoms else 105.0
    lat0 = np.mean([g.centroid.y for g in geoms.values()]) if geoms else 16.0
    utm = (32600 if lat0 >= 0 else 32700) + int((lon0 + 180) // 6) + 1
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", f"EPSG:{utm}", always_xy=True)
    boundaries = {fid: shapely.transform(g.boundary, lambda xy: np.column_stack(to_utm.transform(xy[:, 0], xy[:, 1]))) for fid, g in geoms.items()}
    ecef_to_geo = pyproj.Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True)

    seen = {}
    worst_footprint_m = 0.0
    worst_height_m = 0.0
    vertices = 0
    hole_vertices = 0
    for uri, region, _ in contents:
        gltf, binary = read_glb(os.path.join(args.dir, uri))
        rows_in_table = check_property_table(uri, gltf, binary)
        meta = gltf["extensions"]["EXT_structural_metadata"]
        table = meta["propertyTables"][0]
        fid_view = gltf["bufferViews"][table["properties"]["fid"]["values"]]
        fids = np.frombuffer(binary, dtype="<i8", count=table["count"], offset=fid_view.get("byteOffset", 0))
        for fid in fids.tolist():
            if fid in seen:
                fail(f"building {fid} is in {seen[fid]} and {uri}")
            seen[fid] = uri
        node = gltf["nodes"][0]
        t = np.array(node.get("translation", [0, 0, 0]), dtype=np.float64)
        for prim in gltf["meshes"][0]["primitives"]:
            ext = prim["extensions"]["EXT_mesh_features"]["featureIds"][0]
            assert ext["propertyTable"] == 0 and ext["attribute"] == 0
            pos = accessor_array(gltf, binary, prim["attributes"]["POSITION"]).astype(np.float64) + t
            ids = accessor_array(gltf, binary, prim["attributes"]["_FEATURE_ID_0"]).astype(np.int64)
            if len(ids) and (ids.min() < 0 or ids.max() >= rows_in_table):
                fail(f"{uri}: feature ids {ids.min()}..{ids.max()} outside the table's {rows_in_table} rows")
                continue
            # glTF y-up -> 3D Tiles z-up: (x, y, z) -> (x, -z, y)
            x, y, z = pos[:, 0], -pos[:, 2], pos[:, 1]
            lon, lat, h = ecef_to_geo.transform(x, y, z)
            lonr, latr = np.radians(lon), np.radians(lat)
            w, s, e, n, lo, hi = region
            outside = (lonr < w - TOL_RAD) | (lonr > e + TOL_RAD) | (latr < s - TOL_RAD) | (latr > n + TOL_RAD) | (h < lo - TOL_H) | (h > hi + TOL_H)
            if outside.any():
                i = int(np.argmax(outside))
                fail(f"{uri}: vertex {i} at lon {lon[i]:.8f} lat {lat[i]:.8f} h {h[i]:.3f} outside region {region}")
            ux, uy = to_utm.transform(lon, lat)
            building_fids = fids[ids]
            for fid in np.unique(building_fids).tolist():
                sel = building_fids == fid
                pts = shapely.points(ux[sel], uy[sel])
                d = shapely.distance(pts, boundaries[fid])
                worst_footprint_m = max(worst_footprint_m, float(d.max()))
                if d.max() > TOL_FOOTPRINT_M:
                    fail(f"{uri}: building {fid} has a vertex {d.max():.3f} m from its footprint")
                base, top = heights[fid]
                hv = h[sel]
                off = np.minimum(np.abs(hv - base), np.abs(hv - top))
                worst_height_m = max(worst_height_m, float(off.max()))
                if off.max() > TOL_HEIGHT_M:
                    fail(f"{uri}: building {fid} has a vertex at {hv[np.argmax(off)]:.3f} m, expected base {base} or top {top}")
                geom = geoms[fid]
                if geom.geom_type == "Polygon" and len(geom.interiors) > 0:
                    hole_vertices += int(sel.sum())
            vertices += len(pos)
    # Footprints under 0.01 m² are slivers bando must skip (and count), not draw.
    utm_area = lambda g: shapely.transform(g, lambda xy: np.column_stack(to_utm.transform(xy[:, 0], xy[:, 1]))).area
    missing = {fid for fid in set(geoms) - set(seen) if utm_area(geoms[fid]) >= 0.01} if not args.sample else set()
    if missing:
        fail(f"{len(missing)} buildings in no tile, e.g. {sorted(missing)[:5]}")
    finish({"tiles": len(contents), "levels": levels, "buildings": len(seen), "vertices": vertices,
            "worst_footprint_m": round(worst_footprint_m, 6), "worst_height_m": round(worst_height_m, 6), "vertices_of_buildings_with_holes": hole_vertices, "schema_checked": schema_checked})


if __name__ == "__main__":
    main()
