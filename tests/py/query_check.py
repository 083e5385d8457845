#!/usr/bin/env python3
"""Independent check of bando's spatial queries: reads the GeoPackage itself (sqlite3 + shapely),
computes every answer with GEOS (shapely) and PROJ/geographiclib (pyproj), asks a running bando
the same questions over HTTP, and reports every disagreement.

Conventions both sides share: edges are straight in lon/lat (EPSG:4326 as stored); distances are
metres on the WGS84 ellipsoid to the nearest part of a geometry (here: an azimuthal equidistant
projection centred on the query point, exact for distances from the centre, after splitting
edges into 0.0005° pieces); predicates are GEOS's in lon/lat; a feature belongs to the
administrative unit holding its centroid (lowest fid on a shared boundary).

usage: query_check.py --store demo.gpkg --base http://127.0.0.1:PORT [--scenario file.toml]
       [--seed N] [--scale F]
Exit status 0 when everything agrees; the last line summarises."""
import argparse
import http.client
import json
import math
import random
import sqlite3
import struct
import sys
import tomllib
import urllib.parse

import numpy as np
import pyproj
import shapely
from shapely.geometry import Point, Polygon, box

GEOD = pyproj.Geod(ellps="WGS84")
SEGMENT_DEG = 0.0005
REL = 1e-3          # the contract: distances within 0.1%
ABS = 0.002         # bando rounds distances to the millimetre


def gpkg_geometry(blob):
    """GeoPackage binary (header + envelope + WKB) to shapely."""
    flags = blob[3]
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(flags >> 1) & 0x07]
    return shapely.from_wkb(bytes(blob[8 + envelope:]))


class Layer:
    def __init__(self, db, name):
        info = [(r[1], r[2].upper()) for r in db.execute(f'pragma table_info("{name}")')]
        self.fields = [c for c, _ in info if c not in ("fid", "geom")]
        booleans = {c for c, t in info if t.startswith("BOOL")}
        rows = db.execute(f'select fid, geom, {", ".join(self.fields) or "1"} from "{name}" order by fid').fetchall()
        self.name = name
        self.ids = np.array([r[0] for r in rows])
        self.geoms = np.array([gpkg_geometry(r[1]) for r in rows])
        self.props = [{f: (bool(v) if f in booleans and v is not None else v) for f, v in zip(self.fields, r[2:])} for r in rows]
        self.tree = shapely.STRtree(self.geoms)
        self.dense = None

    def densified(self):
        if self.dense is None:
            self.dense = shapely.segmentize(self.geoms, SEGMENT_DEG)
        return self.dense


def metres_per_degree(lat):
    a, e2 = 6378137.0, 0.00669437999014
    phi = math.radians(lat)
    w = 1 - e2 * math.sin(phi) ** 2
    return a / math.sqrt(w) * math.cos(phi) * math.pi / 180, a * (1 - e2) / w ** 1.5 * math.pi / 180


def distances(layer, idx, lon, lat):
    """Ellipsoidal distances (m) from (lon, lat) to the features idx of layer."""
    if len(idx) == 0:
        return np.array([])
    tr = pyproj.Transformer.from_crs("EPSG:4326", f"+proj=aeqd +lat_0={lat} +lon_0={lon} +ellps=WGS84", always_xy=True)
    geoms = layer.densified()[idx]
    projected = shapely.transform(geoms, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))
    return shapely.distance(projected, Point(0, 0))


def search_box(lon, lat, r):
    kx, ky = metres_per_degree(lat)
    m = 1.05
    return box(lon - r * m / kx, lat - r * m / ky, lon + r * m / kx, lat + r * m / ky)


class Client:
    def __init__(self, base):
        u = urllib.parse.urlparse(base)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)

    def request(self, method, path, body=None):
        self.conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        r = self.conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise AssertionError(f"{method} {path} answered {r.status}: {data[:300]!r}")
        return json.loads(data)

    def get(self, path, **params):
        return self.request("GET", path + "?" + urllib.parse.urlencode(params))


class Checker:
    def __init__(self, args):
        self.db = sqlite3.connect(args.store)
        self.layers = {}
        self.client = Client(args.base)
        self.rng = random.Random(args.seed)
        self.scale = args.scale
        self.failures = []
        self.counts = {}
        wards = self.layer("wards")
        self.extent = shapely.total_bounds(wards.geoms)

    def layer(self, name):
        if name not in self.layers:
            self.layers[name] = Layer(self.db, name)
        return self.layers[name]

    def fail(self, what):
        self.failures.append(what)
        if len(self.failures) <= 20:
            print("MISMATCH", what, file=sys.stderr)

    def tally(self, kind):
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def random_point(self, extent=None):
        w, s, e, n = extent if extent is not None else self.extent
        return float(self.rng.uniform(w, e)), float(self.rng.uniform(s, n))

    # ---- radius ---------------------------------------------------------------------------
    def check_radius(self, layer_name, lon, lat, r):
        layer = self.layer(layer_name)
        idx = layer.tree.query(search_box(lon, lat, r))
        d = distances(layer, idx, lon, lat)
        expected = {int(layer.ids[i]): float(x) for i, x in zip(idx, d)}
        got = self.client.get("/query/radius", lon=repr(lon), lat=repr(lat), radius_m=repr(r), layers=layer_name, limit=10000)
        returned = {f["id"]: f["properties"]["distance_m"] for f in got["features"]}
        if got["numberMatched"] != len(returned):
            self.fail(f"radius {layer_name} {lon},{lat} r={r}: numberMatched {got['numberMatched']} but {len(returned)} returned")
        for fid, ref in expected.items():
            near_edge = abs(ref - r) <= REL * r + ABS
            if fid in returned:
                if abs(returned[fid] - ref) > REL * max(ref, 1.0) + ABS:
                    self.fail(f"radius {layer_name} {lon},{lat}: feature {fid} at {returned[fid]} m, reference {ref} m")
            elif ref <= r and not near_edge:
                self.fail(f"radius {layer_name} {lon},{lat} r={r}: feature {fid} at {ref} m missing")
        for fid in returned:
            if fid not in expected or (expected[fid] > r and abs(expected[fid] - r) > REL * r + ABS):
                self.fail(f"radius {layer_name} {lon},{lat} r={r}: feature {fid} returned, reference {expected.get(fid)} m")
        dists = [f["properties"]["distance_m"] for f in got["features"]]
        if dists != sorted(dists):
            self.fail(f"radius {layer_name} {lon},{lat}: not sorted by distance")
        self.tally("radius")

    # ---- point ----------------------------------------------------------------------------
    def check_point(self, layer_name, lon, lat, tolerance=5.0):
        layer = self.layer(layer_name)
        idx = layer.tree.query(search_box(lon, lat, tolerance))
        p = Point(lon, lat)
        expected, ambiguous = set(), set()
        polygonal = [g.geom_type in ("Polygon", "MultiPolygon") for g in layer.geoms[idx]]
        d = distances(layer, idx, lon, lat)
        for i, poly, dist in zip(idx, polygonal, d):
            fid = int(layer.ids[i])
            if poly:
                if shapely.intersects(layer.geoms[i], p):
                    expected.add(fid)
            elif abs(dist - tolerance) <= REL * tolerance + ABS:
                ambiguous.add(fid)
            elif dist <= tolerance:
                expected.add(fid)
        got = self.client.get("/query/point", lon=repr(lon), lat=repr(lat), layers=layer_name, tolerance_m=tolerance)
        returned = {f["id"] for f in got["features"]}
        if (returned - ambiguous) != (expected - ambiguous):
            self.fail(f"point {layer_name} {lon!r},{lat!r}: got {sorted(returned)}, reference {sorted(expected)}")
        self.tally("point")

    def point_on_edge(self, layer_name):
        layer = self.layer(layer_name)
        g = layer.geoms[self.rng.randrange(len(layer.geoms))]
        if g.geom_type == "MultiPolygon":
            g = g.geoms[0]
        rings = [g.exterior] + list(g.interiors)
        ring = rings[self.rng.randrange(len(rings))]
        c = list(ring.coords)
        k = self.rng.randrange(len(c) - 1)
        t = self.rng.choice([0.0, 0.5, self.rng.random()])
        (x0, y0), (x1, y1) = c[k], c[k + 1]
        return float(x0 + t * (x1 - x0)), float(y0 + t * (y1 - y0))

    def point_in_hole(self):
        layer = self.layer("buildings")
        holed = [i for i, g in enumerate(layer.geoms) if len(g.interiors) > 0]
        if not holed:
            return None
        g = layer.geoms[self.rng.choice(holed)]
        c = Polygon(g.interiors[0]).centroid
        return float(c.x), float(c.y)

    # ---- boundary and bbox ----------------------------------------------------------------
    def random_polygon(self):
        lon, lat = self.random_point()
        kx, ky = metres_per_degree(lat)
        n = self.rng.randrange(3, 14)
        r = self.rng.uniform(50, 1500)
        angles = sorted(self.rng.uniform(0, 2 * math.pi) for _ in range(n))
        ring = [(lon + r * self.rng.uniform(0.4, 1) * math.cos(a) / kx, lat + r * self.rng.uniform(0.4, 1) * math.sin(a) / ky) for a in angles]
        ring.append(ring[0])
        holes = []
        if self.rng.random() < 0.3:
            h = r * 0.2
            holes = [[(lon - h / kx, lat - h / ky), (lon - h / kx, lat + h / ky), (lon + h / kx, lat + h / ky), (lon + h / kx, lat - h / ky), (lon - h / kx, lat - h / ky)]]
        poly = Polygon(ring, holes)
        return poly if poly.is_valid else None

    def reference_region(self, layer_name, region, predicate):
        layer = self.layer(layer_name)
        idx = layer.tree.query(region)
        test = shapely.within if predicate == "within" else shapely.intersects
        return {int(layer.ids[i]) for i in idx if test(layer.geoms[i], region)}

    def check_boundary(self, layer_name, region, predicate, admin=None):
        expected = self.reference_region(layer_name, region, predicate)
        if admin:
            got = self.client.get("/query/boundary", admin=admin, layers=layer_name, predicate=predicate, limit=10000)
        else:
            body = json.dumps({"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(region)})
            path = "/query/boundary?" + urllib.parse.urlencode({"layers": layer_name, "predicate": predicate, "limit": 10000})
            got = self.client.request("POST", path, body)
        returned = {f["id"] for f in got["features"]}
        if returned != expected or got["numberMatched"] != len(expected):
            self.fail(f"boundary {layer_name} {predicate} {admin or region.wkt[:80]}: +{sorted(returned - expected)[:5]} -{sorted(expected - returned)[:5]}")
        self.tally("boundary")

    def check_bbox(self, layer_name):
        lon, lat = self.random_point()
        w, h = self.rng.uniform(0.0002, 0.01), self.rng.uniform(0.0002, 0.01)
        b = (lon - w, lat - h, lon + w, lat + h)
        expected = self.reference_region(layer_name, box(*b), "intersects")
        got = self.client.get("/query/bbox", bbox=",".join(map(repr, b)), layers=layer_name, limit=10000)
        returned = {f["id"] for f in got["features"]}
        if returned != expected:
            self.fail(f"bbox {layer_name} {b}: +{sorted(returned - expected)[:5]} -{sorted(expected - returned)[:5]}")
        self.tally("bbox")

    # ---- nearest --------------------------------------------------------------------------
    def check_nearest(self, layer_name, k):
        layer = self.layer(layer_name)
        lon, lat = self.random_point()
        d = distances(layer, np.arange(len(layer.geoms)), lon, lat)
        order = np.argsort(d, kind="stable")[:k]
        got = self.client.get("/query/nearest", lon=repr(lon), lat=repr(lat), k=k, layers=layer_name)
        gd = [f["properties"]["distance_m"] for f in got["features"]]
        rd = [float(d[i]) for i in order]
        if len(gd) != len(rd) or any(abs(a - b) > REL * max(b, 1) + ABS for a, b in zip(gd, rd)):
            self.fail(f"nearest {layer_name} {lon},{lat} k={k}: {gd[:5]} vs {rd[:5]}")
        else:
            for f, i in zip(got["features"], order):
                # Equal distances may come in either order; different ones must match.
                if f["id"] != int(layer.ids[i]) and abs(f["properties"]["distance_m"] - d[i]) > REL * max(d[i], 1) + ABS:
                    self.fail(f"nearest {layer_name} {lon},{lat}: id {f['id']} vs {layer.ids[i]}")
        self.tally("nearest")

    # ---- statistics and indicators ---------------------------------------------------------
    def unit_of_features(self, layer_name, by="wards"):
        layer, units = self.layer(layer_name), self.layer(by)
        centroids = shapely.centroid(layer.geoms)
        owner = np.full(len(centroids), -1)
        for ui in range(len(units.geoms) - 1, -1, -1):   # lowest fid wins: assign it last
            inside = shapely.intersects(units.geoms[ui], centroids)
            owner[inside] = ui
        return owner, centroids

    def measure(self, g):
        d = shapely.segmentize(g, SEGMENT_DEG)
        if g.geom_type in ("Polygon", "MultiPolygon"):
            return abs(GEOD.geometry_area_perimeter(d)[0])
        if g.geom_type in ("LineString", "MultiLineString"):
            return GEOD.geometry_length(d)
        return None

    def check_stats(self, layer_name, group_by=None, sum_field=None, within=None):
        layer, units = self.layer(layer_name), self.layer("wards")
        owner, centroids = self.unit_of_features(layer_name)
        in_area = np.ones(len(owner), bool) if within is None else shapely.intersects(within, centroids)
        params = {"layer": layer_name, "by": "wards"}
        if group_by:
            params["group_by"] = group_by
        if sum_field:
            params["sum"] = sum_field
        if within is not None:
            params["within"] = json.dumps(shapely.geometry.mapping(within))
        got = self.client.get("/stats", **params)
        by_id = {u["id"]: u for u in got["units"]}
        listed = {int(units.ids[u]) for u in range(len(units.geoms)) if within is None or units.geoms[u].intersects(within)}
        if set(by_id) != listed:
            self.fail(f"stats {layer_name}: units {sorted(by_id)} vs {sorted(listed)}")
        if got["unassigned"] != int(((owner < 0) & in_area).sum()):
            self.fail(f"stats {layer_name}: unassigned {got['unassigned']} vs {int(((owner < 0) & in_area).sum())}")
        for ui in range(len(units.geoms)):
            fid = int(units.ids[ui])
            if fid not in by_id:
                continue
            members = np.nonzero((owner == ui) & in_area)[0]
            row = by_id[fid]
            groups = {}
            for i in members:
                key = layer.props[i][group_by] if group_by else None
                groups.setdefault(json.dumps(key), []).append(i)
            expect_rows = [(None, members, row)] if not group_by else []
            if group_by:
                got_groups = {json.dumps(g["value"]): g for g in row.get("groups", [])}
                if set(got_groups) != set(groups):
                    self.fail(f"stats {layer_name} unit {fid}: groups {sorted(got_groups)} vs {sorted(groups)}")
                    continue
                expect_rows = [(k, np.array(v), got_groups[k]) for k, v in groups.items()] + [(None, members, row)]
            for key, idx, figures in expect_rows:
                where = f"stats {layer_name} unit {fid} group {key}"
                if figures["count"] != len(idx):
                    self.fail(f"{where}: count {figures['count']} vs {len(idx)}")
                if sum_field:
                    s = sum((layer.props[i][sum_field] or 0) for i in idx)
                    if abs(figures["sum"] - s) > 1e-6 * max(abs(s), 1) + 0.001:
                        self.fail(f"{where}: sum {figures['sum']} vs {s}")
                m = [self.measure(layer.geoms[i]) for i in idx]
                if m and m[0] is not None:
                    ref = sum(m)
                    key_m = "area_m2" if "area_m2" in figures else "length_m"
                    if abs(figures[key_m] - ref) > REL * max(ref, 1) + 0.01:
                        self.fail(f"{where}: {key_m} {figures[key_m]} vs {ref}")
        self.tally("stats")

    def check_indicators(self, scenario_path):
        with open(scenario_path, "rb") as f:
            scenario = tomllib.load(f)
        got = self.client.get(f"/scenarios/{scenario['id']}/indicators")
        by_id = {i["id"]: i for i in got["indicators"]}
        for ind in scenario.get("indicators", []):
            layer, units = self.layer(ind["layer"]), self.layer(ind["by"])
            owner, _ = self.unit_of_features(ind["layer"], ind["by"])
            conds = ind.get("where", [])

            def matches(props):
                for c in conds:
                    v, want = props[c["field"]], c["value"]
                    if c["op"] == "eq" and v != want:
                        return False
                    if c["op"] == "ne" and v == want:
                        return False
                return True

            rows = {u["id"]: u for u in by_id[ind["id"]]["units"]}
            for ui in range(len(units.geoms)):
                members = np.nonzero(owner == ui)[0]
                hit = [i for i in members if matches(layer.props[i])]
                if ind["measure"] == "count":
                    value = float(len(hit))
                elif ind["measure"] == "sum":
                    value = float(sum(layer.props[i][ind["field"]] or 0 for i in hit))
                else:
                    value = len(hit) / len(members) if len(members) else None
                t = ind["target"]
                status = "no_data" if value is None else ("ok" if (t.get("min") is None or value >= t["min"]) and (t.get("max") is None or value <= t["max"]) else "below_target")
                row = rows.get(int(units.ids[ui]))
                if row is None or row["status"] != status or (value is None) != (row["value"] is None) or (value is not None and abs(row["value"] - value) > 1e-9 * max(1, abs(value)) + 0.001):
                    self.fail(f"indicator {ind['id']} unit {units.ids[ui]}: {row} vs value {value} {status}")
            self.tally("indicators")

    # ---- the run ---------------------------------------------------------------------------
    def run(self, scenario):
        n = lambda k: max(1, int(k * self.scale))
        dense = ["parcels", "buildings", "housing", "roads", "street_lights", "water"]
        for _ in range(n(1500)):
            lon, lat = self.random_point()
            self.check_radius(self.rng.choice(dense), lon, lat, self.rng.choice([3.0, 10.0, 25.0, 60.0, 150.0, 400.0]))
        for _ in range(n(300)):
            # Features straddling the circle: the radius is the distance to some feature's nearest part.
            layer = self.layer(self.rng.choice(["parcels", "buildings", "roads"]))
            lon, lat = self.random_point()
            idx = layer.tree.query(search_box(lon, lat, 300))
            if len(idx):
                r = float(distances(layer, idx[:1], lon, lat)[0])
                if r > 1:
                    self.check_radius(layer.name, lon, lat, r)
        sea = (107.6, 16.55, 108.35, 17.15)
        for _ in range(n(150)):
            lon, lat = self.random_point(sea)
            self.check_radius(self.rng.choice(["fishing_zones", "vessels"]), lon, lat, self.rng.uniform(500, 30000))
        for _ in range(n(600)):
            self.check_point(self.rng.choice(["parcels", "buildings", "wards", "water", "planning_zones"]), *self.random_point())
        for _ in range(n(600)):
            layer = self.rng.choice(["parcels", "buildings", "wards"])
            self.check_point(layer, *self.point_on_edge(layer))
        for _ in range(n(100)):
            p = self.point_in_hole()
            if p:
                self.check_point("buildings", *p)
                self.check_radius("buildings", p[0], p[1], 3.0)
        for _ in range(n(200)):
            self.check_point(self.rng.choice(["housing", "roads", "street_lights"]), *self.random_point(), tolerance=self.rng.choice([5.0, 20.0]))
        for _ in range(n(60)):
            lon, lat = self.random_point(sea)
            self.check_point("fishing_zones", lon, lat)
        for _ in range(n(200)):
            region = self.random_polygon()
            if region is not None:
                self.check_boundary(self.rng.choice(["parcels", "buildings", "housing", "roads"]), region, self.rng.choice(["intersects", "within"]))
        for _ in range(n(60)):
            # A feature's own outline as the query area: edges that touch without crossing.
            layer = self.layer(self.rng.choice(["parcels", "buildings", "planning_zones"]))
            region = layer.geoms[self.rng.randrange(len(layer.geoms))]
            self.check_boundary(self.rng.choice(["parcels", "buildings", "housing"]), region, self.rng.choice(["intersects", "within"]))
        wards = self.layer("wards")
        for i in range(len(wards.geoms)):
            code = wards.props[i]["code"]
            self.check_boundary(self.rng.choice(["housing", "buildings", "parcels"]), wards.geoms[i], self.rng.choice(["intersects", "within"]), admin=f"wards:{code}")
        for _ in range(n(300)):
            self.check_bbox(self.rng.choice(["parcels", "buildings", "roads", "housing"]))
        for _ in range(n(200)):
            self.check_nearest(self.rng.choice(["schools", "health_stations", "places", "housing"]), self.rng.choice([1, 3, 10]))
        self.check_stats("parcels", group_by="land_use", sum_field="area_m2")
        self.check_stats("housing", group_by="poor_household", sum_field="household_size")
        self.check_stats("roads")
        self.check_stats("buildings", sum_field="floors")
        for _ in range(3):
            region = self.random_polygon()
            if region is not None:
                self.check_stats("housing", sum_field="household_size", within=region)
        if scenario:
            self.check_indicators(scenario)
        summary = ", ".join(f"{v} {k}" for k, v in sorted(self.counts.items()))
        if self.failures:
            print(f"FAILED: {len(self.failures)} disagreements over {summary}")
            return 1
        print(f"all agree: {summary} queries compared with shapely/GEOS and pyproj")
        return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--scenario")
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--scale", type=float, default=1.0)
    args = ap.parse_args()
    sys.exit(Checker(args).run(args.scenario))


if __name__ == "__main__":
    main()
