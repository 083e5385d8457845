#!/usr/bin/env python3
"""bando's OGC API Features as OWSLib (a real OGC client) sees it, against an oracle that reads
the GeoPackage itself (sqlite3 + shapely, the reader of query_check.py): landing page,
conformance, collections, items with bbox (random boxes, one across the antimeridian, one with
6 numbers), limit and paging by the `next` links, property filters, single items, HTML, and OGC
exception bodies for bad requests.

usage: ogc_check.py --store demo.gpkg --base http://127.0.0.1:PORT [--seed N]
Exit status 0 when everything agrees; the last line summarises."""
import argparse
import json
import random
import sqlite3
import sys
import urllib.error
import urllib.request

import shapely
from owslib.ogcapi.features import Features
from shapely.geometry import box

from query_check import Layer

LAYERS = ["parcels", "buildings", "housing", "roads", "wards"]
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
]


class Check:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def __call__(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL:", what)


def get(url):
    try:
        with urllib.request.urlopen(url) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def every_page(api, layer, **params):
    """All features of a query, following the `next` links as a client pages."""
    page = api.collection_items(layer, **params)
    features, matched = list(page["features"]), page["numberMatched"]
    while True:
        nxt = [l["href"] for l in page["links"] if l["rel"] == "next"]
        if not nxt:
            return features, matched
        page = json.loads(get(nxt[0])[2])
        features += page["features"]


def oracle_box(layer, bounds):
    hits = layer.tree.query(box(*bounds), predicate="intersects")
    return sorted(int(layer.ids[i]) for i in hits)


def check_items(check, api, layer, rng):
    w, s, e, n = shapely.total_bounds(layer.geoms)
    for _ in range(6):
        x0, x1 = sorted(rng.uniform(w, e) for _ in range(2))
        y0, y1 = sorted(rng.uniform(s, n) for _ in range(2))
        want = oracle_box(layer, (x0, y0, x1, y1))
        limit = rng.choice([3, 10, 50])
        got, matched = every_page(api, layer.name, bbox=[x0, y0, x1, y1], limit=limit)
        ids = [f["id"] for f in got]
        check(ids == want, f"{layer.name} bbox {x0},{y0},{x1},{y1} limit {limit}: {len(ids)} ids vs {len(want)}")
        check(matched == len(want), f"{layer.name} numberMatched {matched} vs {len(want)}")
    # across the antimeridian: 170..180 and -180..x1 hold what -180..x1 holds
    x1 = (w + e) / 2
    want = oracle_box(layer, (-180, s, x1, n))
    got, _ = every_page(api, layer.name, bbox=[170, s, x1, n], limit=1000)
    check([f["id"] for f in got] == want, f"{layer.name} antimeridian bbox: {len(got)} vs {len(want)}")
    got, _ = every_page(api, layer.name, bbox=[w, s, -10, x1, n, 10], limit=1000)
    want = oracle_box(layer, (w, s, x1, n))
    check([f["id"] for f in got] == want, f"{layer.name} 6-number bbox: {len(got)} vs {len(want)}")


def check_properties(check, api, layer, rng):
    i = rng.randrange(len(layer.ids))
    fid = int(layer.ids[i])
    item = api.collection_item(layer.name, str(fid))
    check(item["id"] == fid and item["properties"] == layer.props[i], f"{layer.name} item {fid}: {item['properties']} vs {layer.props[i]}")
    shape = shapely.geometry.shape(item["geometry"])
    check(shapely.equals_exact(shape, layer.geoms[i], 1e-8), f"{layer.name} item {fid} geometry")
    for field in layer.fields:
        value = layer.props[i][field]
        if value is None or isinstance(value, float):
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        want = [int(layer.ids[k]) for k, p in enumerate(layer.props) if p[field] == value]
        got, matched = every_page(api, layer.name, limit=10000, **{field: text})
        check([f["id"] for f in got] == want and matched == len(want), f"{layer.name} {field}={text}: {len(got)} vs {len(want)}")


def check_errors(check, base):
    for path, status in [
        ("collections/parcels/items?colour=red", 400),
        ("collections/parcels/items?bbox=1,2,3", 400),
        ("collections/parcels/items?bbox=0,10,1,5", 400),
        ("collections/parcels/items?limit=0", 400),
        ("collections/parcels/items?limit=10001", 400),
        ("collections/parcels/items?datetime=2024-01-01", 400),
        ("collections/parcels/items?crs=http://www.opengis.net/def/crs/EPSG/0/999999", 400),
        ("collections/parcels/items?f=xml", 400),
        ("collections/nope/items", 404),
        ("collections/parcels/items/999999999", 404),
        ("collections/parcels/items/abc", 404),
    ]:
        got, ctype, body = get(base + path)
        doc = json.loads(body) if ctype.startswith("application/json") else {}
        check(got == status and doc.get("code") and doc.get("description"), f"{path}: {got} {ctype} {body[:200]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    base = args.base.rstrip("/") + "/ogc/"
    check = Check()
    db = sqlite3.connect(args.store)
    api = Features(base)
    rels = {l["rel"] for l in api.links}
    check({"self", "conformance", "data"} <= rels, f"landing rels {rels}")
    conforms = api.conformance()["conformsTo"]
    check(all(c in conforms for c in CONFORMANCE), f"conformance {conforms}")
    stored = sorted(r[0] for r in db.execute("select name from bando_layers"))
    collections = api.collections()["collections"]
    listed = sorted(c["id"] for c in collections if "." not in c["id"])
    check(listed == stored, f"collections {listed} vs {stored}")
    # Scenario layers (`scenario.layer`) link the store layer they select from.
    for c in (c for c in collections if "." in c["id"]):
        related = [l["href"].rsplit("/", 1)[-1] for l in c["links"] if l["rel"] == "related"]
        check(len(related) == 1 and related[0] in stored, f"scenario collection {c['id']}: related {related}")
    for name in LAYERS:
        layer = Layer(db, name)
        check(api.collection(name)["id"] == name, f"collection {name}")
        check_items(check, api, layer, rng)
        check_properties(check, api, layer, rng)
    status, ctype, body = get(base + "collections/parcels/items?f=html&limit=5")
    check(status == 200 and ctype.startswith("text/html") and body.count(b"<tr>") == 6, f"items as HTML: {status} {ctype}")
    check_errors(check, base)
    print(f"OGC API checks: {check.passed} agree, {check.failed} disagree")
    sys.exit(1 if check.failed else 0)


if __name__ == "__main__":
    main()
