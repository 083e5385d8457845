#!/usr/bin/env python3
"""Tile polygon validity, area and completeness of bando's vector tiles against the store.

Independent of bando's code: tiles are decoded with `mapbox-vector-tile`, judged with shapely
(GEOS) `is_valid`, and compared with the store's own geometries (read from the GeoPackage with
sqlite3 + shapely's WKB reader), projected and clipped to the same tile by shapely.

For each zoom it samples tiles where the layer's rings run (a random vertex of a random feature),
so tile edges cut through features, the case where clippers go wrong. Per zoom it reports:
  invalid   polygon features that are not OGC-valid (self-intersection, self-tangency, a hole
            outside its shell, overlapping multipolygon parts), and lines with zero-length segments
  area1%    of features whose clipped source covers >= --min-area tile units^2 (default 200 x 200
            units), the share whose tile area is within 1% of the source clipped to the buffered tile
  worst     the largest relative area error among those
  grid%     of all features, the share within the integer grid's own bound: half a unit times the
            clipped perimeter (or 1%, if larger); no tile of any server can do better than that
  dropped   (z >= 16) features at least one unit wide somewhere inside the tile that it does not carry

Several bando binaries can be judged on the same tiles in one run (`--bando before=BIN
--bando after=BIN`), each serving the same store with --no-cache.

usage: tile_validity.py --store S.gpkg --layer L [--zooms 12-20] [--tiles 40] [--bando NAME=BIN]...
       [--strict] [--json OUT]
--strict exits 1 when any tile polygon is invalid, any line has a zero-length segment, any feature
is dropped at z >= 16, or any feature's area is beyond the grid bound.
"""

import argparse
import json
import math
import random
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

import mapbox_vector_tile
import numpy as np
import shapely
from shapely import wkb
from shapely.geometry import box, shape
from shapely.strtree import STRtree

EXTENT = 4096
BUFFER = 64
# Envelope sizes of the GeoPackage binary header, by the flags' envelope indicator.
ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def read_store_layer(store, layer):
    """(fid, shapely geometry in lon/lat) of every feature of `layer` in the GeoPackage."""
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    (column,) = db.execute(
        "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (layer,)
    ).fetchone()
    pk = next(r[1] for r in db.execute(f'PRAGMA table_info("{layer}")') if r[5])
    features = []
    for fid, blob in db.execute(f'SELECT "{pk}", "{column}" FROM "{layer}"'):
        if blob is None:
            continue
        envelope = ENVELOPE_BYTES[(blob[3] >> 1) & 7]
        features.append((fid, wkb.loads(bytes(blob[8 + envelope :]))))
    return features


def to_world(geometry):
    """Lon/lat to Web Mercator world units in [0, 1], y down (the tile grid's orientation)."""

    def project(coords):
        lon, lat = coords[:, 0], coords[:, 1]
        x = (lon + 180.0) / 360.0
        lat = lat.clip(-85.05112878, 85.05112878)
        y = (1.0 - np.arcsinh(np.tan(np.radians(lat))) / math.pi) / 2.0
        return np.column_stack([x, y])

    return shapely.transform(geometry, project)


def to_tile(world_geometry, z, x, y):
    scale = (1 << z) * EXTENT
    return shapely.transform(world_geometry, lambda c: c * scale - [x * EXTENT, y * EXTENT])


def sample_tiles(world, z, count, rng):
    """Up to `count` distinct tiles at zoom z, each holding a vertex of some feature."""
    tiles, tries = set(), 0
    n = 1 << z
    while len(tiles) < count and tries < count * 50:
        tries += 1
        geometry = world[rng.randrange(len(world))]
        coords = shapely.get_coordinates(geometry)
        px, py = coords[rng.randrange(len(coords))]
        tiles.add((z, min(int(px * n), n - 1), min(int(py * n), n - 1)))
    return sorted(tiles)


def decoded_features(data, layer):
    if not data:
        return []
    decoded = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})
    return decoded.get(layer, {}).get("features", [])


def has_zero_length_segment(geometry):
    lines = [geometry["coordinates"]] if geometry["type"] == "LineString" else geometry["coordinates"]
    return any(a == b for line in lines for a, b in zip(line, line[1:]))


class Tally:
    def __init__(self):
        self.polygons = self.invalid = self.lines = self.bad_lines = 0
        self.compared = self.within = self.dropped = self.checked = 0
        self.worst = 0.0
        self.bytes = 0
        self.gridded = self.within_grid = 0
        self.examples = []

    def row(self):
        share = lambda a, b: 100.0 * a / b if b else 0.0
        return {
            "polygons": self.polygons,
            "invalid": self.invalid,
            "invalid_pct": round(share(self.invalid, self.polygons), 4),
            "lines": self.lines,
            "zero_length_lines": self.bad_lines,
            "area_compared": self.compared,
            "area_within_1pct": round(share(self.within, self.compared), 2),
            "area_compared_all": self.gridded,
            "area_within_grid_bound": round(share(self.within_grid, self.gridded), 2),
            "worst_area_error_pct": round(100.0 * self.worst, 2),
            "presence_checked": self.checked,
            "dropped": self.dropped,
            "tile_bytes": self.bytes,
            "examples": self.examples[:5],
        }


def judge_tile(tally, features, tile, world, tree, fids, min_area):
    z, x, y = tile
    seen = set()
    buffered = box(-BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
    for feature in features:
        g = feature["geometry"]
        fid = feature.get("id")
        seen.add(fid)
        if g["type"] in ("LineString", "MultiLineString"):
            tally.lines += 1
            tally.bad_lines += has_zero_length_segment(g)
            continue
        if g["type"] not in ("Polygon", "MultiPolygon"):
            continue
        tally.polygons += 1
        drawn = shape(g)
        if not drawn.is_valid:
            tally.invalid += 1
            tally.examples.append(f"{z}/{x}/{y} id {fid}: {shapely.is_valid_reason(drawn)}")
            continue
        if fid not in fids:
            continue
        source = clip(to_tile(world[fids[fid]], z, x, y), buffered)
        judge_area(tally, drawn, source, min_area, f"{z}/{x}/{y} id {fid}")
    if z >= 16:
        count_dropped(tally, seen, tile, world, tree)


def judge_area(tally, drawn, source, min_area, name):
    """Area against the source clipped to the same tile. The integer grid moves each vertex by up
    to half a unit, so no tile can do better than about half a unit times the perimeter: features
    of at least `min_area` are held to 1%, every feature to that grid bound (or 1%, if larger)."""
    if source.area <= 0:
        return
    error = abs(drawn.area - source.area)
    tally.gridded += 1
    if error <= max(0.01 * source.area, 0.5 * source.length):
        tally.within_grid += 1
    else:
        tally.examples.append(f"{name}: area {drawn.area:.0f} vs {source.area:.0f} units^2 beyond the grid bound")
    if source.area >= min_area:
        tally.compared += 1
        tally.within += error <= 0.01 * source.area
        tally.worst = max(tally.worst, error / source.area)


def clip(geometry, square):
    """`geometry` cut to `square`; a source that the projection made invalid (a hole touching its
    shell at a point can turn into a crossing) is first made valid, as a reader of it would."""
    try:
        return geometry.intersection(square)
    except shapely.errors.GEOSException:
        return shapely.make_valid(geometry).intersection(square)


def count_dropped(tally, seen, tile, world, tree):
    z, x, y = tile
    scale = (1 << z)
    ground = box(x / scale, y / scale, (x + 1) / scale, (y + 1) / scale)
    inside = box(0, 0, EXTENT, EXTENT)
    for index in tree.query(ground):
        fid, geometry = world.fids[index], world[index]
        if geometry.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        # A sliver under a unit wide everywhere collapses on the integer grid (ST_AsMVTGeom drops
        # it too): only parts that keep something after shrinking by half a unit must be drawn.
        if clip(to_tile(geometry, z, x, y), inside).buffer(-0.5).is_empty:
            continue
        tally.checked += 1
        if fid not in seen:
            tally.dropped += 1
            tally.examples.append(f"{z}/{x}/{y}: feature {fid} dropped")


class World(list):
    """The layer's geometries in world units, with their fids."""

    def __init__(self, features):
        super().__init__(to_world(shapely.make_valid(g) if not g.is_valid else g) for _, g in features)
        self.fids = [fid for fid, _ in features]


class Server:
    def __init__(self, binary, store):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.process = subprocess.Popen(
            [binary, "serve", "--store", store, "--no-cache", "--addr", f"127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(600):
            try:
                urllib.request.urlopen(self.url("/ready"), timeout=1)
                return
            except urllib.error.HTTPError as e:
                if e.code == 404:  # a binary from before /ready answers only once loaded
                    return
                time.sleep(0.2)
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"{binary} did not start serving {store}")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def tile(self, layer, z, x, y):
        with urllib.request.urlopen(self.url(f"/tiles/{layer}/{z}/{x}/{y}.mvt"), timeout=60) as r:
            return r.read()

    def stop(self):
        self.process.terminate()
        self.process.wait()


def zoom_range(text):
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", required=True)
    ap.add_argument("--layer", required=True)
    ap.add_argument("--zooms", default="12-20", type=zoom_range)
    ap.add_argument("--tiles", default=40, type=int, help="tiles sampled per zoom")
    ap.add_argument("--min-area", default=40000.0, type=float, help="tile units^2 for the area check")
    ap.add_argument("--bando", action="append", default=[], help="NAME=BINARY (repeatable)")
    ap.add_argument("--seed", default=1, type=int)
    ap.add_argument("--strict", action="store_true")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args()
    binaries = [b.split("=", 1) if "=" in b else ["bando", b] for b in args.bando] or [["bando", "target/release/bando"]]

    features = read_store_layer(args.store, args.layer)
    world = World(features)
    tree = STRtree(list(world))
    fids = {fid: i for i, fid in enumerate(world.fids)}
    rng = random.Random(args.seed)
    tiles = {z: sample_tiles(world, z, args.tiles, rng) for z in args.zooms}

    report = {"store": args.store, "layer": args.layer, "features": len(world), "runs": {}}
    for name, binary in binaries:
        server = Server(binary, args.store)
        try:
            rows = {}
            for z, sample in tiles.items():
                tally = Tally()
                for tile in sample:
                    data = server.tile(args.layer, *tile)
                    tally.bytes += len(data)
                    judge_tile(tally, decoded_features(data, args.layer), tile, world, tree, fids, args.min_area)
                rows[z] = tally.row()
            report["runs"][name] = rows
        finally:
            server.stop()
    print_report(report, args.tiles)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    if args.strict:
        failures = strict_failures(report)
        for failure in failures:
            print("FAIL", failure, file=sys.stderr)
        sys.exit(1 if failures else 0)


def strict_failures(report):
    failures = []
    for name, rows in report["runs"].items():
        for z, r in rows.items():
            off_grid = r["area_compared_all"] and r["area_within_grid_bound"] < 100.0
            bad = r["invalid"] or r["zero_length_lines"] or r["dropped"] or off_grid
            if bad and (r["polygons"] or r["lines"]):
                failures.append(
                    f"{name} z{z}: {r['invalid']} invalid polygons, {r['zero_length_lines']} lines with "
                    f"zero-length segments, {r['dropped']} dropped, {r['area_within_grid_bound']}% within "
                    f"the grid bound: {r['examples']}"
                )
    return failures


def print_report(report, tiles):
    print(f"{report['store']} layer {report['layer']}: {report['features']} features, {tiles} sampled tiles per zoom")
    print(f"{'run':<10} {'z':>3} {'polygons':>9} {'invalid':>8} {'invalid%':>9} {'area1%':>7} {'worst%':>7} {'grid%':>7} {'checked':>8} {'dropped':>8} {'lines':>6} {'0-len':>6} {'bytes':>9}")
    for name, rows in report["runs"].items():
        for z, r in rows.items():
            print(
                f"{name:<10} {z:>3} {r['polygons']:>9} {r['invalid']:>8} {r['invalid_pct']:>9.3f} "
                f"{r['area_within_1pct']:>7.2f} {r['worst_area_error_pct']:>7.2f} {r['area_within_grid_bound']:>7.2f} {r['presence_checked']:>8} {r['dropped']:>8} {r['lines']:>6} {r['zero_length_lines']:>6} {r['tile_bytes']:>9}"
            )


if __name__ == "__main__":
    main()
