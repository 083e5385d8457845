"""Reads a picture bando rendered with Pillow (an independent decoder) and reports what the
Rust tests assert on: the format, the size, and the RGBA colour at given pixels.

    raster_check.py FILE [x,y ...]  ->  {"format": "PNG", "size": [w, h], "pixels": [[r,g,b,a], ...]}

With --colour RRGGBB --within D it also reports how many pixels lie within distance D of that
colour ("matching"), and their bounding box ("bbox": [x0, y0, x1, y1] or null).
"""
import argparse
import json

import numpy as np
from PIL import Image

parser = argparse.ArgumentParser()
parser.add_argument("file")
parser.add_argument("points", nargs="*")
parser.add_argument("--colour")
parser.add_argument("--within", type=float, default=0)
args = parser.parse_args()

image = Image.open(args.file)
fmt = image.format
rgba = image.convert("RGBA")
out = {"format": fmt, "size": list(rgba.size), "pixels": []}
for p in args.points:
    x, y = (int(v) for v in p.split(","))
    out["pixels"].append(list(rgba.getpixel((x, y))))
if args.colour:
    want = np.array([int(args.colour[i : i + 2], 16) for i in (0, 2, 4)], dtype=float)
    pixels = np.asarray(rgba, dtype=float)[:, :, :3]
    close = np.sqrt(((pixels - want) ** 2).sum(axis=2)) <= args.within
    ys, xs = np.nonzero(close)
    out["matching"] = int(close.sum())
    out["bbox"] = [int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())] if len(xs) else None
print(json.dumps(out))
