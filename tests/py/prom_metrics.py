#!/usr/bin/env python3
"""Parses a Prometheus text exposition (the body of GET /metrics) with prometheus_client's own
parser, which refuses malformed lines, and prints its samples as JSON:
[{"name": ..., "labels": {...}, "value": ...}, ...] plus each family's type.

usage: prom_metrics.py FILE
"""

import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    with open(sys.argv[1]) as f:
        text = f.read()
    out = {"samples": [], "types": {}}
    for family in text_string_to_metric_families(text):
        out["types"][family.name] = family.type
        for s in family.samples:
            out["samples"].append({"name": s.name, "labels": s.labels, "value": s.value})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
