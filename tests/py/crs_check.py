#!/usr/bin/env python3
"""OGC API Features Part 2 (CRS by reference) of bando against pyproj, on the parcels of a store:
every vertex of the items asked with `crs=` (VN-2000 TM-3 zones, UTM, VN-2000 geographic,
EPSG:4326 in latitude-first order, Web Mercator) within 1 cm of pyproj's conversion of the
GeoPackage's own coordinates; the `Content-Crs` header; single items with `crs`; `bbox` with a
projected `bbox-crs` and a CQL2 `filter` with a projected `filter-crs`, compared with shapely on
the parcels converted by pyproj; and 400 OGC exceptions for CRSs the server does not offer.

usage: crs_check.py --store demo.gpkg --base http://127.0.0.1:PORT [--seed N]
Exit status 0 when everything agrees; the last line summarises."""
import argparse
import json
import random
import sqlite3
import sys
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pyproj
import shapely
from shapely.geometry import box

from ogc_check import Check
from query_check import Layer

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
# EPSG code: tolerance in the CRS's units (1 cm; 1e-7 degree is about 1 cm).
CODES = {9214: 0.01, 9210: 0.01, 5899: 0.01, 3405: 0.01, 3406: 0.01, 3857: 0.01, 4326: 1e-7, 4756: 1e-7}
PAGE = 1000



def get(base, path, **params):
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url) as r:
            return r.status, r.headers, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read())


def to_crs(code):
    """pyproj's conversion of lon/lat into the CRS's own axis order."""
    t = pyproj.Transformer.from_crs("OGC:CRS84", f"EPSG:{code}")
    return lambda geoms: shapely.transform(geoms, lambda c: np.column_stack(t.transform(c[:, 0], c[:, 1])))


def worst_vertex(served, expected):
    """Largest coordinate difference between a served GeoJSON geometry and a shapely one."""
    a = shapely.get_coordinates(shapely.geometry.shape(served))
    b = shapely.get_coordinates(expected)
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a - b).max()) if len(a) else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    check = Check()
    base = args.base.rstrip("/") + "/ogc"
    parcels = Layer(sqlite3.connect(args.store), "parcels")
    by_id = {int(i): n for n, i in enumerate(parcels.ids)}

    status, _, collection = get(base, "/collections/parcels")
    check(status == 200 and collection["storageCrs"] == CRS84, f"storageCrs {collection.get('storageCrs')}")
    for code in CODES:
        check(f"{EPSG}{code}" in collection["crs"], f"collection crs lists EPSG:{code}")

    vertices = 0
    for code, tolerance in CODES.items():
        status, headers, page = get(base, "/collections/parcels/items", crs=f"{EPSG}{code}", limit=PAGE)
        check(status == 200, f"items crs=EPSG:{code}: {status} {page}")
        check(headers.get("Content-Crs") == f"<{EPSG}{code}>", f"Content-Crs {headers.get('Content-Crs')}")
        ids = [f["id"] for f in page["features"]]
        expected = to_crs(code)(parcels.geoms[[by_id[i] for i in ids]])
        worst = max(worst_vertex(f["geometry"], g) for f, g in zip(page["features"], expected))
        vertices += sum(len(shapely.get_coordinates(g)) for g in expected)
        check(worst <= tolerance, f"EPSG:{code}: a vertex is {worst} off pyproj (tolerance {tolerance})")
        one = rng.choice(ids)
        status, headers, item = get(base, f"/collections/parcels/items/{one}", crs=f"{EPSG}{code}")
        check(
            status == 200 and headers.get("Content-Crs") == f"<{EPSG}{code}>",
            f"item {one} crs=EPSG:{code}: {status} {headers.get('Content-Crs')}",
        )
        check(worst_vertex(item["geometry"], to_crs(code)(parcels.geoms[[by_id[one]]])[0]) <= tolerance, f"item {one} EPSG:{code}")
    _, headers, _ = get(base, "/collections/parcels/items", limit=1)
    check(headers.get("Content-Crs") == f"<{CRS84}>", f"default Content-Crs {headers.get('Content-Crs')}")

    # bbox in a projected bbox-crs, and filter geometries in a projected filter-crs.
    for code in (9214, 3405, 4326):
        projected = to_crs(code)(parcels.geoms)
        tree = shapely.STRtree(projected)
        (x0, y0, x1, y1) = shapely.total_bounds(projected)
        for n in range(6):
            w, h = (x1 - x0) * rng.uniform(0.02, 0.2), (y1 - y0) * rng.uniform(0.02, 0.2)
            bx, by = rng.uniform(x0, x1 - w), rng.uniform(y0, y1 - h)
            region = box(bx, by, bx + w, by + h)
            want = sorted(int(parcels.ids[i]) for i in tree.query(region, predicate="intersects"))
            numbers = ",".join(f"{v:.9f}" for v in (bx, by, bx + w, by + h))
            status, _, page = get(
                base, "/collections/parcels/items", bbox=numbers, **{"bbox-crs": f"{EPSG}{code}"}, limit=10000
            )
            got = sorted(f["id"] for f in page.get("features", []))
            check(status == 200 and got == want, f"bbox-crs EPSG:{code} {numbers}: {len(got)} served, {len(want)} by shapely")
            status, _, page = get(
                base,
                "/collections/parcels/items",
                filter=f"S_INTERSECTS(geometry, {region.wkt})",
                **{"filter-crs": f"{EPSG}{code}"},
                limit=10000,
            )
            got = sorted(f["id"] for f in page.get("features", []))
            check(status == 200 and got == want, f"filter-crs EPSG:{code}: {len(got)} served, {len(want)} by shapely")

    for params in ({"crs": "EPSG:2056"}, {"crs": f"{EPSG}99999"}, {"bbox": "0,0,1,1", "bbox-crs": "urn:nothing"}, {"filter": "S_INTERSECTS(geometry, POINT(1 1))", "filter-crs": f"{EPSG}2056"}):
        status, headers, body = get(base, "/collections/parcels/items", **params)
        check(status == 400 and "code" in body and "description" in body, f"{params}: {status} {body}")
    status, _, body = get(base, f"/collections/parcels/items/{int(parcels.ids[0])}", crs="EPSG:2056")
    check(status == 400, f"item with an unknown crs: {status} {body}")

    print(f"crs_check: {vertices} vertices in {len(CODES)} CRSs; {check.passed} agree, {check.failed} disagree")
    sys.exit(1 if check.failed else 0)


if __name__ == "__main__":
    main()
