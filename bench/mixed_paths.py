#!/usr/bin/env python3
"""Prints the mixed request list of 235 paths that the overload and soak runs cycle through:
the first 195 of bench/tiles.py's varied tiles (cheap once cached), then 40 expensive or
uncached requests, interleaved so that every stretch of the list mixes both:
near with and without a filter, an OGC page, stats by region, one base's coverage, a
filtered z6 tile and a place search.

    python3 bench/mixed_paths.py > mixed.txt
"""
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
tiles = subprocess.run(
    [sys.executable, os.path.join(here, "tiles.py"), "/tiles/{z}/{x}/{y}.mvt"],
    check=True, capture_output=True, text=True,
).stdout.split()[:195]

towns = ["Mopti", "Gao", "Timbuktu", "Kidal", "Segou", "Bankass", "Douentza", "Menaka"]
heavy = []
for i, town in enumerate(towns):
    heavy.append(f"/api/events?near={town}&radius_km=50&limit=100")
    heavy.append(f"/api/events?near={town}&radius_km=50&limit=100&from=2018&type=Battles")
    heavy.append(f"/ogc/collections/events/items?limit=100&offset={1000 * i}")
    heavy.append(f"/api/stats?group_by=region&from={2012 + i}")
    heavy.append("/api/bases/MINUSMA-GAO-SE/coverage?limit=100")
    # Filtered z6 tiles over the conflict belt, a different filter each so they stay cold
    # until the cache has seen them all.
    heavy.append(f"/tiles/6/{30 + i % 3}/29.mvt?from={2010 + i}&type=Battles")
    heavy.append(f"/api/places?q={town[:3].lower()}")
heavy = heavy[:40]

out = []
step = len(tiles) / len(heavy)
for i, path in enumerate(tiles):
    out.append(path)
    if int((i + 1) / step) > int(i / step) and heavy:
        out.append(heavy.pop(0))
out.extend(heavy)
assert len(out) == 235, len(out)
print("\n".join(out))
