#!/usr/bin/env python3
"""bando's CQL2 filters (OGC API Features Part 3) against an oracle: random filters over the
demo layers (comparisons, LIKE, BETWEEN, IN, IS NULL, the spatial functions on WKT / GeoJSON /
BBOX literals, AND/OR/NOT), each written as CQL2 text and as CQL2 JSON, and the ids the server
selects compared with those that plain Python predicates and shapely (GEOS) select from the
GeoPackage itself, with SQL's three-valued logic for nulls. Also: OWSLib reads the queryables and
pages through a filtered query, filter-crs EPSG:4326 (lat/lon) selects what CRS84 does, and bad
filters get 400 with an OGC exception.

usage: cql2_check.py --store demo.gpkg --base http://127.0.0.1:PORT [--filters N] [--seed N]
Exit status 0 when everything agrees; the last line summarises."""
import argparse
import json
import random
import re
import sqlite3
import sys
import urllib.parse

import numpy as np
import shapely
from owslib.ogcapi.features import Features
from shapely.geometry import LineString, Point, Polygon, box, mapping

from ogc_check import Check, every_page, get
from query_check import Layer

LAYERS = ["parcels", "buildings", "housing", "roads", "wards"]
SPATIAL = ["s_intersects", "s_within", "s_contains", "s_disjoint", "s_touches", "s_overlaps", "s_crosses", "s_equals"]
COMPARE = ["=", "<>", "<", "<=", ">", ">="]


def text_literal(v):
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return repr(float(v)) if isinstance(v, float) else str(v)


def wkt(g):
    return shapely.to_wkt(g, rounding_precision=-1)


class Geom:
    """A geometry literal: shapely for the oracle, WKT/BBOX and GeoJSON for the server."""

    def __init__(self, shape, bounds=None):
        self.shape, self.bounds = shape, bounds and tuple(float(v) for v in bounds)

    def text(self):
        if self.bounds:
            return "BBOX(" + ", ".join(repr(v) for v in self.bounds) + ")"
        return wkt(self.shape)

    def json(self):
        return {"bbox": list(self.bounds)} if self.bounds else mapping(self.shape)


class Gen:
    def __init__(self, layer, types, rng):
        self.layer, self.types, self.rng = layer, types, rng
        self.w, self.s, self.e, self.n = (float(v) for v in shapely.total_bounds(layer.geoms))

    def value(self, field):
        values = [p[field] for p in self.layer.props if p[field] is not None]
        if not values:
            return 0
        v = self.rng.choice(values)
        if self.types[field] in ("INTEGER", "REAL", "MEDIUMINT") and self.rng.random() < 0.3:
            v = v + self.rng.choice([-1, 1]) * self.rng.random() * 3
        return v

    def xy(self):
        return self.rng.uniform(self.w, self.e), self.rng.uniform(self.s, self.n)

    def geometry(self):
        r = self.rng.random()
        span = max(self.e - self.w, self.n - self.s)
        if r < 0.25:
            x0, y0 = self.xy()
            d = span * self.rng.uniform(0.02, 0.3)
            return Geom(box(x0, y0, x0 + d, y0 + d), (x0, y0, x0 + d, y0 + d))
        if r < 0.4:
            return Geom(Point(*self.xy()))
        if r < 0.6:
            return Geom(LineString([self.xy() for _ in range(self.rng.randint(2, 4))]))
        if r < 0.8:
            x0, y0 = self.xy()
            d = span * self.rng.uniform(0.02, 0.2)
            ring = [(x0, y0), (x0 + d, y0 + d * 0.2), (x0 + d * 0.6, y0 + d), (x0 - d * 0.1, y0 + d * 0.7)]
            return Geom(Polygon(ring))
        # a stored feature's own geometry: equals, touches and within have something to find
        return Geom(self.layer.geoms[self.rng.randrange(len(self.layer.geoms))])

    def leaf(self):
        fields = [f for f in self.layer.fields if self.types[f] != "BLOB"]
        r = self.rng.random()
        if r < 0.3 or not fields:
            return ("spatial", self.rng.choice(SPATIAL), self.geometry())
        field = self.rng.choice(fields)
        ty = self.types[field]
        numeric = ty in ("INTEGER", "REAL", "MEDIUMINT")
        text = ty.startswith("TEXT")
        r = self.rng.random()
        if r < 0.35:
            return ("cmp", self.rng.choice(COMPARE if ty != "BOOLEAN" else ["=", "<>"]), field, self.value(field))
        if r < 0.5 and numeric:
            a, b = sorted([self.value(field), self.value(field)])
            return ("between", field, a, b)
        if r < 0.65 and text:
            v = str(self.value(field))
            cut = self.rng.randint(0, len(v))
            kind = self.rng.choice(["prefix", "suffix", "one", "middle"])
            esc = lambda s: s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            if kind == "prefix":
                pattern = esc(v[:cut]) + "%"
            elif kind == "suffix":
                pattern = "%" + esc(v[cut:])
            elif kind == "one" and v:
                i = self.rng.randrange(len(v))
                pattern = esc(v[:i]) + "_" + esc(v[i + 1:])
            else:
                pattern = "%" + esc(v[cut:cut + 2]) + "%"
            return ("like", field, pattern)
        if r < 0.8:
            return ("in", field, [self.value(field) for _ in range(self.rng.randint(1, 4))])
        return ("isnull", field)

    def tree(self, depth=0):
        r = self.rng.random()
        if depth >= 3 or r < 0.45:
            node = self.leaf()
        elif r < 0.7:
            node = ("and", [self.tree(depth + 1) for _ in range(self.rng.randint(2, 3))])
        elif r < 0.9:
            node = ("or", [self.tree(depth + 1) for _ in range(self.rng.randint(2, 3))])
        else:
            node = ("not", self.tree(depth + 1))
        return node


def to_text(node):
    kind = node[0]
    if kind in ("and", "or"):
        return "(" + f" {kind.upper()} ".join(to_text(n) for n in node[1]) + ")"
    if kind == "not":
        return "NOT (" + to_text(node[1]) + ")"
    if kind == "cmp":
        return f'"{node[2]}" {node[1]} {text_literal(node[3])}'
    if kind == "between":
        return f'"{node[1]}" BETWEEN {text_literal(node[2])} AND {text_literal(node[3])}'
    if kind == "like":
        return f'"{node[1]}" LIKE {text_literal(node[2])}'
    if kind == "in":
        return f'"{node[1]}" IN (' + ", ".join(text_literal(v) for v in node[2]) + ")"
    if kind == "isnull":
        return f'"{node[1]}" IS NULL'
    return f"{node[1].upper()}(geometry, {node[2].text()})"


def to_json(node):
    kind = node[0]
    prop = lambda f: {"property": f}
    if kind in ("and", "or"):
        return {"op": kind, "args": [to_json(n) for n in node[1]]}
    if kind == "not":
        return {"op": "not", "args": [to_json(node[1])]}
    if kind == "cmp":
        return {"op": node[1], "args": [prop(node[2]), node[3]]}
    if kind == "between":
        return {"op": "between", "args": [prop(node[1]), node[2], node[3]]}
    if kind == "like":
        return {"op": "like", "args": [prop(node[1]), node[2]]}
    if kind == "in":
        return {"op": "in", "args": [prop(node[1]), node[2]]}
    if kind == "isnull":
        return {"op": "isNull", "args": [prop(node[1])]}
    return {"op": node[1], "args": [prop("geometry"), node[2].json()]}


def like_regex(pattern):
    out, chars = [], iter(pattern)
    for c in chars:
        if c == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif c == "%":
            out.append(".*")
        elif c == "_":
            out.append(".")
        else:
            out.append(re.escape(c))
    return re.compile("".join(out), re.DOTALL)


def compare(op, a, b):
    if a is None or b is None:
        return None
    return {"=": a == b, "<>": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


PREDICATES = {
    "s_intersects": shapely.intersects,
    "s_within": shapely.within,
    "s_contains": shapely.contains,
    "s_disjoint": shapely.disjoint,
    "s_touches": shapely.touches,
    "s_overlaps": shapely.overlaps,
    "s_crosses": shapely.crosses,
    "s_equals": shapely.equals,
}


class Oracle:
    def __init__(self, layer):
        self.layer = layer
        self.spatial = {}

    def holds(self, node, i):
        """Three-valued: True, False or None (unknown)."""
        kind, p = node[0], self.layer.props[i]
        if kind == "and":
            vals = [self.holds(n, i) for n in node[1]]
            return False if False in vals else (None if None in vals else True)
        if kind == "or":
            vals = [self.holds(n, i) for n in node[1]]
            return True if True in vals else (None if None in vals else False)
        if kind == "not":
            v = self.holds(node[1], i)
            return None if v is None else not v
        if kind == "cmp":
            return compare(node[1], p[node[2]], node[3])
        if kind == "between":
            lo, hi = compare(">=", p[node[1]], node[2]), compare("<=", p[node[1]], node[3])
            return False if False in (lo, hi) else (None if None in (lo, hi) else True)
        if kind == "like":
            v = p[node[1]]
            return None if v is None else bool(like_regex(node[2]).fullmatch(v))
        if kind == "in":
            vals = [compare("=", p[node[1]], v) for v in node[2]]
            return True if True in vals else (None if None in vals else False)
        if kind == "isnull":
            return p[node[1]] is None
        # keyed by the node, kept alive beside its answers so its id is never reused
        key = id(node)
        if key not in self.spatial:
            self.spatial[key] = (node, PREDICATES[node[1]](self.layer.geoms, node[2].shape))
        return bool(self.spatial[key][1][i])

    def select(self, node):
        return [int(self.layer.ids[i]) for i in range(len(self.layer.ids)) if self.holds(node, i) is True]


def items(base, layer, **params):
    query = urllib.parse.urlencode({**params, "limit": 10000})
    status, ctype, body = get(f"{base}collections/{layer}/items?{query}")
    doc = json.loads(body) if body else {}
    return status, doc


def check_filters(check, base, db, layer, rng, count):
    types = {r[1]: r[2].upper() for r in db.execute(f'pragma table_info("{layer.name}")')}
    gen, oracle = Gen(layer, types, rng), Oracle(layer)
    nonempty = 0
    for _ in range(count):
        node = gen.tree()
        want = oracle.select(node)
        nonempty += bool(want)
        for lang, text in (("cql2-text", to_text(node)), ("cql2-json", json.dumps(to_json(node)))):
            status, doc = items(base, layer.name, **{"filter": text, "filter-lang": lang})
            ids = [f["id"] for f in doc.get("features", [])]
            check(
                status == 200 and ids == want and doc.get("numberMatched") == len(want),
                f"{layer.name} {lang} {text}: {status} {len(ids)} ids vs {len(want)} {doc if status != 200 else ''}"[:600],
            )
    return nonempty


def check_owslib(check, api, base, layer):
    q = api.collection_queryables(layer.name)
    props = q["properties"]
    check("geometry" in props and set(layer.fields) <= set(props), f"queryables of {layer.name}: {sorted(props)}")
    field = "land_use" if "land_use" in layer.fields else layer.fields[0]
    value = next(p[field] for p in layer.props if p[field] is not None)
    text = f"{field} = {text_literal(value)} AND S_INTERSECTS(geometry, BBOX({', '.join(repr(float(v)) for v in shapely.total_bounds(layer.geoms))}))"
    want = [int(layer.ids[i]) for i, p in enumerate(layer.props) if p[field] == value]
    got, matched = every_page(api, layer.name, filter=text, limit=7)
    check([f["id"] for f in got] == want and matched == len(want), f"OWSLib {layer.name} filter {text}: {len(got)} vs {len(want)}")


def check_filter_crs(check, base, layer, rng):
    w, s, e, n = shapely.total_bounds(layer.geoms)
    x0, x1 = sorted(rng.uniform(w, e) for _ in range(2))
    y0, y1 = sorted(rng.uniform(s, n) for _ in range(2))
    lon_lat = f"S_INTERSECTS(geometry, POLYGON(({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y0})))"
    lat_lon = f"S_INTERSECTS(geometry, POLYGON(({y0} {x0}, {y0} {x1}, {y1} {x1}, {y0} {x0})))"
    _, a = items(base, layer.name, filter=lon_lat)
    _, b = items(base, layer.name, **{"filter": lat_lon, "filter-crs": "http://www.opengis.net/def/crs/EPSG/0/4326"})
    ids = lambda d: [f["id"] for f in d.get("features", [])]
    check(ids(a) == ids(b) and ids(a), f"filter-crs EPSG:4326 selects what CRS84 does: {len(ids(a))} vs {len(ids(b))}")


def check_errors(check, base):
    for params, says in [
        ({"filter": "land_use = "}, "expected a property or a literal"),
        ({"filter": "colour = 'red'"}, "not a queryable"),
        ({"filter": "area_m2 = 'big'"}, "compare values of one type"),
        ({"filter": "CASEI(land_use) = 'odt'"}, "unknown function"),
        ({"filter": '{"op":"=","args":[{"property":"land_use"},"ODT"]}'}, "filter-lang=cql2-json"),
        ({"filter": "{", "filter-lang": "cql2-json"}, "not CQL2 JSON"),
        ({"filter": "land_use = 'ODT'", "filter-lang": "ecql"}, "cql2-text or cql2-json"),
        ({"filter": "S_INTERSECTS(geometry, POINT(16.4 107.5))", "filter-crs": "EPSG:9999"}, "filter-crs"),
        ({"filter": "S_INTERSECTS(geometry, POINT(400 16))"}, "not on the globe"),
        ({"filter-lang": "cql2-text"}, "without a filter"),
    ]:
        status, doc = items(base, "parcels", **params)
        check(
            status == 400 and doc.get("code") == "InvalidParameterValue" and says in doc.get("description", ""),
            f"{params}: {status} {doc}",
        )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--filters", type=int, default=250)
    ap.add_argument("--seed", type=int, default=21)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    base = args.base.rstrip("/") + "/ogc/"
    check = Check()
    db = sqlite3.connect(args.store)
    api = Features(base)
    conforms = api.conformance()["conformsTo"]
    for c in ["ogcapi-features-3/1.0/conf/filter", "ogcapi-features-3/1.0/conf/queryables", "cql2/1.0/conf/cql2-text",
              "cql2/1.0/conf/cql2-json", "cql2/1.0/conf/basic-cql2", "cql2/1.0/conf/advanced-comparison-operators",
              "cql2/1.0/conf/basic-spatial-functions", "cql2/1.0/conf/spatial-functions"]:
        check(f"http://www.opengis.net/spec/{c}" in conforms, f"conformance {c}")
    nonempty = 0
    layers = [Layer(db, name) for name in LAYERS]
    for layer in layers:
        nonempty += check_filters(check, base, db, layer, rng, args.filters // len(LAYERS))
        check_owslib(check, api, base, layer)
    check(nonempty >= args.filters // 4, f"only {nonempty} of {args.filters} filters selected anything")
    check_filter_crs(check, base, layers[0], rng)
    check_errors(check, base)
    print(f"CQL2 checks ({args.filters} filters, {nonempty} selecting something): {check.passed} agree, {check.failed} disagree")
    sys.exit(1 if check.failed else 0)


if __name__ == "__main__":
    main()
