#!/usr/bin/env python3
"""How alike two pictures of the same map are, measured outside bando (Pillow + numpy):
the share of pixels whose RGB colours lie within a distance of each other, and the structural
similarity (SSIM, Wang et al. 2004: 7x7 uniform windows on luminance, as scikit-image's default).

    picture_compare.py A.png B.png [--within 32]  ->  {"within": 0.983, "ssim": 0.94, "size": [w, h]}

Pictures of different sizes are an error."""
import argparse
import json
import sys

import numpy as np
from PIL import Image

parser = argparse.ArgumentParser()
parser.add_argument("a")
parser.add_argument("b")
parser.add_argument("--within", type=float, default=32.0)
args = parser.parse_args()


def rgb(path):
    # Transparent pixels composited over white, as a page would show them.
    image = Image.open(path).convert("RGBA")
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(white, image).convert("RGB"), dtype=np.float64)


a, b = rgb(args.a), rgb(args.b)
if a.shape != b.shape:
    sys.exit(f"sizes differ: {a.shape[1]}x{a.shape[0]} vs {b.shape[1]}x{b.shape[0]}")
within = float((np.sqrt(((a - b) ** 2).sum(axis=2)) <= args.within).mean())


def luminance(p):
    return p[:, :, 0] * 0.2126 + p[:, :, 1] * 0.7152 + p[:, :, 2] * 0.0722


def box_mean(x, k=7):
    # Mean over every k x k window (valid positions only), by summed-area table.
    s = np.pad(x, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    return (s[k:, k:] - s[:-k, k:] - s[k:, :-k] + s[:-k, :-k]) / (k * k)


def ssim(x, y, k=7, data_range=255.0):
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    n = k * k
    mx, my = box_mean(x, k), box_mean(y, k)
    # Sample (co)variances, as scikit-image computes them.
    vx = (box_mean(x * x, k) - mx * mx) * n / (n - 1)
    vy = (box_mean(y * y, k) - my * my) * n / (n - 1)
    cxy = (box_mean(x * y, k) - mx * my) * n / (n - 1)
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())


print(json.dumps({"within": round(within, 4), "ssim": round(ssim(luminance(a), luminance(b)), 4), "size": [a.shape[1], a.shape[0]]}))
