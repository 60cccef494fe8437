#!/usr/bin/env python3
"""Largest tiles: fetches, at every zoom 0-16, the tiles under the busiest towns (and every
tile over Mali up to zoom 7) from a running server and prints the largest per zoom.

    python3 bench/tile_sizes.py [http://127.0.0.1:8080]
Standard library only. Sizes are the uncompressed MVT bytes.
"""
import math
import sys
import time
import urllib.error
import urllib.request

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
TOWNS = {"Bamako": (-7.97522, 12.60915), "Mopti": (-4.18296, 14.4843), "Gao": (-0.04472, 16.27167),
         "Timbuktu": (-3.00742, 16.77348), "Kidal": (1.40921, 18.44345), "Ségou": (-6.25947, 13.44032),
         "Sikasso": (-5.66654, 11.31755)}
MALI = (-12.3, 10.1, 4.3, 25.0)


def tile_of(lon, lat, z):
    n = 2 ** z
    lr = math.radians(lat)
    return int((lon + 180) / 360 * n), int((1 - math.log(math.tan(lr) + 1 / math.cos(lr)) / math.pi) / 2 * n)


def fetch(z, x, y):
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(f"{BASE}/tiles/{z}/{x}/{y}.mvt") as r:
            body = r.read()
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{z}/{x}/{y}: HTTP {e.code}")
    return len(body), time.perf_counter() - t


def main():
    overall = (0, None)
    print(f"{'zoom':>4} {'tiles':>6} {'largest bytes':>14}  tile")
    for z in range(0, 17):
        tiles = {tile_of(lon, lat, z) for lon, lat in TOWNS.values()}
        if z <= 7:
            x0, y1 = tile_of(MALI[0], MALI[1], z)
            x1, y0 = tile_of(MALI[2], MALI[3], z)
            tiles |= {(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)}
        best = (0, None)
        for x, y in sorted(tiles):
            size, _ = fetch(z, x, y)
            if size > best[0]:
                best = (size, f"{z}/{x}/{y}")
        print(f"{z:>4} {len(tiles):>6} {best[0]:>14,}  {best[1]}")
        if best[0] > overall[0]:
            overall = best
    print(f"largest tile: {overall[0]:,} bytes ({overall[1]})")


if __name__ == "__main__":
    main()
