#!/usr/bin/env python3
"""Re-import pick-up latency across replicas over one PostGIS store (issue 12, "Pick-up").

Starts REPLICAS `bando serve` processes on STORE (polling only every 60 s, so only the LISTEN
notification can explain a quick pick-up), re-imports a layer of POINTS points ROUNDS times with
`bando import --replace`, and for every round and replica measures the time from the import's
commit (the `imported_at` the catalog records just before COMMIT) until the replica serves the
new import id. The figure includes the replica's load of the layer. Prints p50, p99 and max.

usage: benches/pickup.py --store postgresql://... [--bando target/release/bando]
       [--replicas 2] [--rounds 30] [--points 10000]
"""

import argparse
import datetime
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.load(r)
    except urllib.error.HTTPError:
        return None


def import_layer(bando, store, path, replace):
    args = [bando, "import", path, "--layer", "pickup", "--kind", "infrastructure", "--src-crs", "EPSG:4326",
            "--store", store, "--json"]
    if replace:
        args.append("--replace")
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def commit_time(meta):
    return datetime.datetime.fromisoformat(meta["imported_at"].replace("Z", "+00:00")).timestamp()


def watch(base, seen, stop):
    """Records the wall time each new import id of the layer is first served."""
    while not stop.is_set():
        meta = get_json(f"{base}/layers/pickup")
        now = time.time()
        if meta and meta["import_id"] not in seen:
            seen[meta["import_id"]] = (now, commit_time(meta))
        time.sleep(0.002)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--bando", default="target/release/bando")
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--points", type=int, default=10000)
    args = ap.parse_args()

    work = tempfile.mkdtemp()
    csv = os.path.join(work, "points.csv")
    with open(csv, "w") as f:
        f.write("lon,lat,name\n")
        for i in range(args.points):
            f.write(f"{107.5 + (i % 100) * 1e-3},{16.4 + (i // 100) * 1e-3},p{i}\n")
    import_layer(args.bando, args.store, csv, replace=False)

    servers, bases = [], []
    for _ in range(args.replicas):
        port = free_port()
        servers.append(subprocess.Popen(
            [args.bando, "serve", "--store", args.store, "--addr", f"127.0.0.1:{port}", "--watch-seconds", "60"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        bases.append(f"http://127.0.0.1:{port}")
    try:
        for base in bases:
            for _ in range(1200):
                try:
                    urllib.request.urlopen(f"{base}/ready", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                sys.exit(f"replica {base} not ready")
        seen = [dict() for _ in bases]
        stop = threading.Event()
        watchers = [threading.Thread(target=watch, args=(b, s, stop)) for b, s in zip(bases, seen)]
        for w in watchers:
            w.start()
        ids = []
        for _ in range(args.rounds):
            ids.append(import_layer(args.bando, args.store, csv, replace=True)["layer"]["import_id"])
            time.sleep(0.3)
        deadline = time.time() + 10
        while time.time() < deadline and not all(i in s for s in seen for i in ids):
            time.sleep(0.05)
        stop.set()
        for w in watchers:
            w.join()
    finally:
        for s in servers:
            s.terminate()
            s.wait()
    lags = []
    for replica, s in enumerate(seen):
        missing = [i for i in ids if i not in s]
        if missing:
            sys.exit(f"replica {replica} never served imports {missing}")
        lags.extend((s[i][0] - s[i][1]) * 1000 for i in ids)
    print(f"pick-up of a {args.points}-point re-import, {args.rounds} rounds x {args.replicas} replicas "
          f"(commit to served, including the layer's load): p50 {percentile(lags, 50):.0f} ms, "
          f"p99 {percentile(lags, 99):.0f} ms, max {max(lags):.0f} ms")


if __name__ == "__main__":
    main()
