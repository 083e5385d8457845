#!/usr/bin/env python3
"""Alert latency of bando's live layers: from an MQTT publish to the `event: alert` on
GET /alerts/stream. Subscribes to the stream, then publishes (paho-mqtt, QoS 0) one report per
new device outside every permitted fishing zone (an `outside` alert at its first report) and
times each alert's arrival. Prints a JSON line: samples, p50_ms, p99_ms, max_ms.

usage: live_latency.py HTTP_PORT MQTT_PORT [SAMPLES] [PER_SECOND]"""
import http.client
import json
import sys
import threading
import time

import paho.mqtt.client as mqtt


def percentile(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


def main(http_port, mqtt_port, samples=200, per_second=20):
    conn = http.client.HTTPConnection("127.0.0.1", http_port)
    conn.request("GET", "/alerts/stream")
    stream = conn.getresponse()
    assert stream.status == 200, stream.status
    sent, latencies, done = {}, [], threading.Event()
    run = f"LAT{int(time.time()) % 100000}"

    def read():
        data = ""
        for raw in stream:
            line = raw.decode().rstrip("\n")
            if line.startswith("data:"):
                data += line[5:].strip()
            elif not line and data:
                alert = json.loads(data)
                data = ""
                at = sent.get(alert.get("device"))
                if at is not None and alert.get("state") == "open":
                    latencies.append((time.perf_counter() - at) * 1000)
                    if len(latencies) >= samples:
                        done.set()
                        return

    threading.Thread(target=read, daemon=True).start()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", mqtt_port)
    client.loop_start()
    time.sleep(1.0)  # the stream's head (the active alerts) has gone by
    for i in range(samples):
        device = f"{run}-{i}"
        payload = json.dumps({"vessel_id": device, "lon": 107.60, "lat": 16.95, "ts": time.time(), "speed_kn": 5})
        sent[device] = time.perf_counter()
        client.publish(f"vms/{device}/position", payload, qos=0)
        time.sleep(1.0 / per_second)
    done.wait(timeout=30)
    client.loop_stop()
    values = sorted(latencies)
    print(json.dumps({
        "samples": len(values),
        "p50_ms": round(percentile(values, 50), 1) if values else None,
        "p99_ms": round(percentile(values, 99), 1) if values else None,
        "max_ms": round(values[-1], 1) if values else None,
    }))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), *[int(a) for a in sys.argv[3:5]])
