#!/usr/bin/env python3
"""Scripted vessel tracks for the live-layer tests, published to a real MQTT broker with
paho-mqtt, and the alerts they must raise, worked out here with shapely and pyproj (never with
bando's code): the oracle bando's GET /alerts is compared with.

usage:
  live_tracks.py plan STORE.gpkg PLAN.json DEVICES.txt
      reads the zones (fishing_zones) from the store with ogr2ogr, draws the tracks (crossings,
      wobbles along a boundary inside the hysteresis band, speeding), writes the messages of two
      phases and the expected alerts to PLAN.json, and the device registry to DEVICES.txt
  live_tracks.py publish PLAN.json PORT PHASE
      publishes the messages of phase 1 or 2 (QoS 1, in order, each stamped with the time it is
      sent) to 127.0.0.1:PORT and waits until the broker has acknowledged all of them

The rules the oracle applies (the configuration of tests/live.rs):
  left_permitted_zone  outside every zone with permitted = true
  entered / exited     enter / exit of each fishing zone (named by zone_code)
  speeding             speed_kn above 20, cleared below 18
A device is inside a zone once inside it and more than HYSTERESIS_M from its boundary, and stays
inside until it is outside and more than HYSTERESIS_M from it; its first report counts as where it
is. The first report opens nothing for enter and exit (no crossing is known yet)."""
import json
import math
import subprocess
import sys
import time

import pyproj
import shapely
from shapely.geometry import Point, shape

HYSTERESIS_M = 50.0
# No scripted point lies between these distances (m) from a boundary: there a flat-earth and a
# UTM distance could disagree about the band, and the test would judge rounding, not rules.
AMBIGUOUS = (35.0, 65.0)
TO_UTM = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32648", always_xy=True).transform


def zones_of(store):
    out = subprocess.run(
        ["ogr2ogr", "-f", "GeoJSON", "/vsistdout/", store, "fishing_zones"],
        check=True, capture_output=True, text=True).stdout
    zones = []
    for f in sorted(json.loads(out)["features"], key=lambda f: f["properties"].get("fid", 0)):
        geom = shape(f["geometry"])
        zones.append({
            "code": f["properties"]["zone_code"],
            "permitted": bool(f["properties"]["permitted"]),
            "geom": geom,
            "utm": shapely.transform(geom, TO_UTM, interleaved=False),
        })
    return zones


def metres_to_boundary(zone, lon, lat):
    x, y = TO_UTM(lon, lat)
    return zone["utm"].boundary.distance(Point(x, y))


def ambiguous(zones, lon, lat):
    return any(AMBIGUOUS[0] <= metres_to_boundary(z, lon, lat) <= AMBIGUOUS[1] for z in zones)


def line(a, b, steps):
    return [(a[0] + (b[0] - a[0]) * i / steps, a[1] + (b[1] - a[1]) * i / steps) for i in range(steps + 1)]


def wobble(zones, edge_lon, lat, n):
    """Points alternating 20 m either side of the meridian edge_lon (a zone's east or west edge)."""
    d = 20.0 / (111_320.0 * math.cos(math.radians(lat)))
    return [(edge_lon + (d if i % 2 else -d), lat) for i in range(n)]


def tracks(zones):
    """Per vessel: a list of (lon, lat, speed_kn). Zone VB-1 is 107.70..107.95 x 16.62..16.80 and
    VK-2 107.85..108.20 x 16.80..17.05 in the demo store; the paths cross their edges."""
    t = {}
    # In VB-1, out through its east edge, back in.
    t["V01"] = line((107.80, 16.70), (108.05, 16.70), 25) + line((108.05, 16.70), (107.80, 16.71), 25)
    # Starts outside everything, enters VB-1 from the west, crosses into VK-2 through the shared edge.
    t["V02"] = line((107.60, 16.75), (107.90, 16.75), 30) + line((107.90, 16.75), (107.90, 16.90), 15)
    # Wobbles along VB-1's east edge inside the band: one crossing at most, never hundreds.
    t["V03"] = line((107.85, 16.65), (107.95, 16.65), 10) + wobble(zones, 107.95, 16.65, 30) + line((107.95, 16.65), (108.10, 16.65), 15)
    # Far out at sea the whole time.
    t["V04"] = line((108.40, 16.40), (108.50, 16.45), 20)
    # In VK-2, speeding twice with a wobble around the limit in between.
    t["V05"] = line((108.00, 16.90), (108.10, 16.95), 30)
    # Leaves VK-2 north, wobbles on the north edge, comes back.
    t["V06"] = line((108.00, 17.00), (108.00, 17.10), 20) + [(108.0, 17.05 + s * 20.0 / 110_540.0) for s in (1, -1, 1, -1, 1)] + line((108.00, 17.10), (108.00, 17.00), 20)
    out = {}
    for name, points in t.items():
        kept = [(lon, lat) for lon, lat in points if not ambiguous(zones, lon, lat)]
        speeds = [8.0] * len(kept)
        if name == "V05":
            pattern = [8, 12, 21, 22, 19, 20.5, 19.5, 17.5, 16, 21.5, 23, 17, 10]
            speeds = [float(pattern[i]) if i < len(pattern) else 9.0 for i in range(len(kept))]
        out[name] = [(lon, lat, s) for (lon, lat), s in zip(kept, speeds)]
    return out


def inside_zones(zones, lon, lat, before):
    """The zone indices the device counts as inside, given those it was inside (None: first report)."""
    p = Point(lon, lat)
    now = set()
    for i, z in enumerate(zones):
        covered = z["geom"].covers(p)
        if before is None:
            counts = covered
        elif i in before:
            counts = covered or metres_to_boundary(z, lon, lat) <= HYSTERESIS_M
        else:
            counts = covered and metres_to_boundary(z, lon, lat) > HYSTERESIS_M
        if counts:
            now.add(i)
    return now


def oracle(zones, tracks):
    """Every alert the tracks open, in the order each device opens them, and its final state."""
    permitted = {i for i, z in enumerate(zones) if z["permitted"]}
    alerts = []
    for device, points in tracks.items():
        active = {}
        speeding = False

        def open_(rule, zone):
            key = (rule, zone)
            if key not in active:
                active[key] = len(alerts)
                alerts.append({"rule": rule, "device": device, "zone": zone, "state": "open"})

        def close(rule, zone):
            i = active.pop((rule, zone), None)
            if i is not None:
                alerts[i]["state"] = "closed"

        member = None  # the zones the device counts as inside; None before its first report
        for lon, lat, speed in points:
            # Rules in the configuration's order; within a rule, zones in feature order.
            now = inside_zones(zones, lon, lat, member)
            was_out = member is not None and not (member & permitted)
            is_out = not (now & permitted)
            if (member is None or not was_out) and is_out:
                open_("left_permitted_zone", None)
            elif member is not None and was_out and not is_out:
                close("left_permitted_zone", None)
            if member is not None:
                for z in sorted(member - now):
                    close("entered", zones[z]["code"])
                for z in sorted(now - member):
                    open_("entered", zones[z]["code"])
                for z in sorted(now - member):
                    close("exited", zones[z]["code"])
                for z in sorted(member - now):
                    open_("exited", zones[z]["code"])
            member = now
            if not speeding and speed > 20.0:
                speeding = True
                open_("speeding", None)
            elif speeding and speed < 18.0:
                speeding = False
                close("speeding", None)
    return alerts


def plan(store, plan_path, devices_path):
    zones = zones_of(store)
    assert [z["code"] for z in zones] == ["VB-1", "VK-2"], [z["code"] for z in zones]
    t = tracks(zones)
    messages = {1: [], 2: []}
    for n, (device, points) in enumerate(t.items()):
        half = len(points) // 2
        for i, (lon, lat, speed) in enumerate(points):
            payload = {"lon": round(lon, 7), "lat": round(lat, 7), "speed_kn": speed, "heading": 90}
            # Odd vessels name themselves; the others are named by their topic only.
            if n % 2:
                payload["vessel_id"] = device
            messages[1 if i < half else 2].append({"topic": f"vms/{device}/position", "payload": payload})
    with open(plan_path, "w") as f:
        json.dump({"messages": messages, "expected": oracle(zones, t), "total": sum(len(p) for p in t.values())}, f)
    with open(devices_path, "w") as f:
        f.write("# the vessels of the scripted tracks\n" + "\n".join(t) + "\n")


def publish(plan_path, port, phase):
    import paho.mqtt.client as mqtt

    messages = json.load(open(plan_path))["messages"][phase]
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"tracks-{phase}-{time.time()}")
    client.max_inflight_messages_set(1)  # strictly in order per device, across reconnects too
    client.connect("127.0.0.1", int(port))
    client.loop_start()
    for m in messages:
        m["payload"]["ts"] = time.time()
        info = client.publish(m["topic"], json.dumps(m["payload"]), qos=1)
        info.wait_for_publish(10)
        assert info.is_published(), m
    client.loop_stop()
    client.disconnect()
    print(len(messages))


if __name__ == "__main__":
    if sys.argv[1] == "plan":
        plan(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "publish":
        publish(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
