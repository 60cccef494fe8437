#!/usr/bin/env python3
"""Prints 200 tile paths, z5-z12, across Mali: the tiles under the gazetteer's towns at each
zoom, taken round-robin over the zooms (largest towns first). Deterministic, so every server
is measured on the same list.

    python3 bench/tiles.py '/tiles/{z}/{x}/{y}.mvt' > tiles.txt
"""
import json
import math
import os
import sys

template = sys.argv[1] if len(sys.argv) > 1 else "/tiles/{z}/{x}/{y}.mvt"
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "..", "geodata", "places.geojson"), encoding="utf-8") as f:
    places = json.load(f)["features"]
towns = sorted(places, key=lambda p: (-(p["properties"]["population"] or 0), p["properties"]["id"]))
per_zoom = {}
for z in range(5, 13):
    n = 2 ** z
    tiles = per_zoom.setdefault(z, [])
    for t in towns:
        lon, lat = t["geometry"]["coordinates"]
        lr = math.radians(lat)
        xy = (int((lon + 180) / 360 * n), int((1 - math.log(math.tan(lr) + 1 / math.cos(lr)) / math.pi) / 2 * n))
        if xy not in tiles:
            tiles.append(xy)
out = []
while len(out) < 200 and any(per_zoom.values()):
    for z in range(5, 13):
        if per_zoom[z] and len(out) < 200:
            x, y = per_zoom[z].pop(0)
            out.append(template.format(z=z, x=x, y=y))
print("\n".join(out))
