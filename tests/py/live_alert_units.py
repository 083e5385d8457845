#!/usr/bin/env python3
"""Sensor readings for the live alert-count test and the counts they must give, worked out here
with sqlite3 + shapely + pyproj (never with bando's code): the oracle of /stats and the scenario
indicators over a `{layer}_alerts` layer.

usage:
  live_alert_units.py STORE.gpkg PLAN.json
      reads the wards and industrial_parks of the store, draws SENSORS sensors over the wards
      (and a margin around them), writes to PLAN.json the NDJSON lines of two phases, the
      (rule, device) alerts the test acknowledges between them, and the expected figures

The rules the oracle applies (the configuration of tests/live.rs):
  pm25_over_limit  pm25 above 50 (cleared below 45): phase 1 opens, phase 2 (pm25 = 20) closes
  outside_park     outside every industrial park (hysteresis 50 m: no sensor is near an edge)
An alert belongs to the ward covering its position (the lowest fid when several do)."""
import json
import random
import sqlite3
import sys

import pyproj
import shapely
from shapely.geometry import Point

from gpkg_units import geometry, holder, units

SENSORS = 80
# No sensor lies closer than this (m) to a park's boundary: the hysteresis band is 50 m.
CLEAR_OF_EDGE_M = 120.0
TO_UTM = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32648", always_xy=True).transform


def parks_of(con):
    rows = con.execute('SELECT geom FROM "industrial_parks" ORDER BY fid')
    return [geometry(g) for (g,) in rows]


def sensors(wards, parks, rng):
    """[(device, lon, lat, inside_park)] spread over the wards' extent and a margin."""
    west, south, east, north = shapely.union_all([w[1] for w in wards]).bounds
    margin = 0.001
    parks_utm = [shapely.transform(p, TO_UTM, interleaved=False) for p in parks]
    out = []
    while len(out) < SENSORS:
        lon = rng.uniform(west - margin, east + margin)
        lat = rng.uniform(south - margin, north + margin)
        here = Point(*TO_UTM(lon, lat))
        if any(p.boundary.distance(here) < CLEAR_OF_EDGE_M for p in parks_utm):
            continue
        inside = any(p.covers(here) for p in parks_utm)
        out.append((f"S{len(out):02d}", round(lon, 6), round(lat, 6), inside))
    return out


def main(store, plan_path):
    con = sqlite3.connect(store)
    wards = units(con, "wards")
    parks = parks_of(con)
    rng = random.Random(14)
    placed = sensors(wards, parks, rng)
    # pm25 either clearly over the limit or clearly under the clearing level.
    pm25 = {d: rng.choice([rng.uniform(60, 120), rng.uniform(5, 40)]) for d, _, _, _ in placed}
    over = [d for d, _, _, _ in placed if pm25[d] > 50]
    dropped = set(over[::3])
    phase1 = [{"sensor_id": d, "lon": lon, "lat": lat, "pm25": round(pm25[d], 1)} for d, lon, lat, _ in placed]
    phase2 = [{"sensor_id": d, "lon": lon, "lat": lat, "pm25": 20.0} for d, lon, lat, _ in placed if d in dropped]

    alerts = []  # (rule, device, lon, lat) active after phase 2
    for d, lon, lat, inside in placed:
        if pm25[d] > 50 and d not in dropped:
            alerts.append(("pm25_over_limit", d, lon, lat))
        if not inside:
            alerts.append(("outside_park", d, lon, lat))
    acked = [[rule, d] for rule, d, _, _ in alerts[::4]]
    acked_set = {tuple(a) for a in acked}

    per_unit = {}  # ward code -> {"rules": {rule: n}, "open": n}
    unit_of = {}
    unassigned = 0
    for rule, d, lon, lat in alerts:
        ward = holder(wards, Point(lon, lat))
        if ward is None:
            unassigned += 1
            unit_of[f"{rule}/{d}"] = None
            continue
        code = ward[2]
        unit_of[f"{rule}/{d}"] = code
        row = per_unit.setdefault(code, {"rules": {}, "open": 0})
        row["rules"][rule] = row["rules"].get(rule, 0) + 1
        if (rule, d) not in acked_set:
            row["open"] += 1
    plan = {
        "phase1": phase1,
        "phase2": phase2,
        "acknowledge": acked,
        "expected": {
            "active": len(alerts),
            "per_unit": per_unit,
            "unit_of": unit_of,
            "unassigned": unassigned,
            "ward_codes": [w[2] for w in wards],
        },
    }
    with open(plan_path, "w") as f:
        json.dump(plan, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
