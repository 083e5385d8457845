#!/usr/bin/env python3
"""Writes a GeoJSON of polygons that break naive tile clippers, the shapes of real cadastral
sheets: combs of thin concave teeth, long 2-5 m road and canal strips at odd angles, spirals,
parcels with holes near their edge, a hole touching its shell at a point, and multipolygons whose
parts touch. They sit around Huế at sizes that cross tile edges from z12 to z20. Every shape is
valid (checked with shapely), so any invalid polygon in a tile comes from the tiler.
usage: hard_shapes.py OUT.geojson"""
import json
import math
import random
import sys

from shapely.geometry import MultiPolygon, Polygon, mapping

LON0, LAT0 = 107.585, 16.463
M_LAT = 1 / 110_574.0
M_LON = 1 / (111_320.0 * math.cos(math.radians(LAT0)))


def ll(x, y, ox, oy):
    """Metres east/north of (ox, oy) degrees to lon/lat."""
    return (ox + x * M_LON, oy + y * M_LAT)


def comb(teeth, width, gap, depth):
    pts = [(0, 0)]
    for i in range(teeth):
        x = i * (width + gap)
        pts += [(x, depth), (x + width, depth), (x + width, 0.5 * depth * (i % 2)), (x + width + gap, 0.5 * depth * (i % 2))]
    pts += [(teeth * (width + gap), 0), (teeth * (width + gap), -width)]
    pts += [(0, -width)]
    return Polygon(pts)


def strip(length, width, angle):
    c, s = math.cos(angle), math.sin(angle)
    xs = [i * length / 40 for i in range(41)]
    centre = [(x, 3 * math.sin(x / 30)) for x in xs]
    left = [(x * c - (y + width / 2) * s, x * s + (y + width / 2) * c) for x, y in centre]
    right = [(x * c - (y - width / 2) * s, x * s + (y - width / 2) * c) for x, y in centre]
    return Polygon(left + right[::-1])


def spiral(turns, width):
    out, inn = [], []
    for i in range(turns * 24 + 1):
        a = i / 24 * 2 * math.pi
        r = 4 * width * a / (2 * math.pi) + 2 * width
        out.append((r * math.cos(a), r * math.sin(a)))
        inn.append(((r - width) * math.cos(a), (r - width) * math.sin(a)))
    return Polygon(out + inn[::-1])


def holed(size, holes, rng):
    shell = [(0, 0), (size, 0), (size, size * 0.7), (size * 0.5, size * 0.9), (0, size)]
    rings = []
    for _ in range(holes):
        cx, cy, r = rng.uniform(0.1, 0.6) * size, rng.uniform(0.1, 0.6) * size, size * 0.04
        ring = Polygon([(cx + r * math.cos(a / 6 * math.pi), cy + r * math.sin(a / 6 * math.pi)) for a in range(12)])
        if all(ring.disjoint(Polygon(h)) for h in rings):
            rings.append(list(ring.exterior.coords))
    return Polygon(shell, rings)


def touching_hole(size):
    shell = [(0, 0), (size, 0), (size, size), (0, size)]
    hole = [(0, size / 2), (size / 3, size / 3), (size / 3, 2 * size / 3)]
    return Polygon(shell, [hole])


def shapes():
    rng = random.Random(7)
    kinds = [
        lambda s: comb(12, 1.5 * s, 2.0 * s, 40 * s),
        lambda s: strip(600 * s, rng.uniform(2, 5), rng.uniform(0, math.pi)),
        lambda s: spiral(4, 3 * s),
        lambda s: holed(80 * s, 6, rng),
        lambda s: touching_hole(50 * s),
    ]
    n = 0
    for scale in (0.5, 1, 4, 20):
        for row in range(6):
            for col, make in enumerate(kinds):
                ox = LON0 + (col * 120 * scale + rng.uniform(0, 50)) * M_LON
                oy = LAT0 + (row * 110 * scale + rng.uniform(0, 50)) * M_LAT
                poly = make(scale)
                if not poly.is_valid:
                    continue
                rot = rng.uniform(0, 2 * math.pi)
                c, s = math.cos(rot), math.sin(rot)
                def place(coords):
                    return [ll(x * c - y * s, x * s + y * c, ox, oy) for x, y in coords]
                geom = Polygon(place(poly.exterior.coords), [place(r.coords) for r in poly.interiors])
                # Rotation and degrees can move a touching hole a hair across its shell: skip those.
                if geom.is_valid:
                    n += 1
                    yield n, geom
    # Multipolygons whose parts share edges and corners (a parcel split by a boundary line).
    for i in range(20):
        ox, oy = LON0 - 0.01 + i * 0.0004, LAT0 - 0.005
        a = Polygon([ll(0, 0, ox, oy), ll(20, 0, ox, oy), ll(20, 15, ox, oy), ll(0, 15, ox, oy)])
        b = Polygon([ll(20, 15, ox, oy), ll(35, 15, ox, oy), ll(35, 30, ox, oy), ll(20, 30, ox, oy)])
        n += 1
        yield n, MultiPolygon([a, b])


def main():
    features = []
    for n, geom in shapes():
        assert geom.is_valid, n
        features.append({"type": "Feature", "properties": {"shape_no": n}, "geometry": mapping(geom)})
    json.dump({"type": "FeatureCollection", "features": features}, open(sys.argv[1], "w"))
    print(len(features))


main()
