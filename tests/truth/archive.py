"""Reads a tile archive with independent readers (the `pmtiles` package, or sqlite3 for
MBTiles), decodes tiles with mapbox-vector-tile and compares them with the live server.
Usage: archive.py ARCHIVE BASE_URL QUERY
Prints JSON: the header's zooms and bounds, the tiles per zoom, the tiles compared (all up
to z6, then a fixed sample of 30 per zoom) and every mismatch of layers, feature counts or
summed event counts; and addresses missing from the archive that the server must answer
with 204."""
import gzip
import json
import random
import sqlite3
import sys
import urllib.request

import mapbox_vector_tile

path, base, query = sys.argv[1], sys.argv[2], sys.argv[3]


def read_pmtiles():
    from pmtiles.reader import MmapSource, Reader, all_tiles

    with open(path, "rb") as f:
        source = MmapSource(f)
        header = Reader(source).header()
        meta = Reader(source).metadata()
        tiles = {zxy: data for zxy, data in all_tiles(source)}
    info = {
        "min_zoom": header["min_zoom"], "max_zoom": header["max_zoom"],
        "bounds": [header["min_lon_e7"] / 1e7, header["min_lat_e7"] / 1e7,
                   header["max_lon_e7"] / 1e7, header["max_lat_e7"] / 1e7],
        "tile_compression": int(header["tile_compression"].value),
        "layers": sorted(l["id"] for l in meta["vector_layers"]),
        "attribution": meta.get("attribution"),
    }
    return info, tiles


def read_mbtiles():
    db = sqlite3.connect(path)
    meta = dict(db.execute("SELECT name, value FROM metadata"))
    tiles = {}
    for z, x, row, data in db.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles"):
        tiles[(z, x, (1 << z) - 1 - row)] = data  # TMS rows count from the south
    info = {
        "min_zoom": int(meta["minzoom"]), "max_zoom": int(meta["maxzoom"]),
        "bounds": [float(v) for v in meta["bounds"].split(",")],
        "format": meta["format"],
        "layers": sorted(l["id"] for l in json.loads(meta["json"])["vector_layers"]),
        "attribution": meta.get("attribution"),
    }
    return info, tiles


def decode(data):
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    layers = mapbox_vector_tile.decode(data)
    summary = {name: len(layer["features"]) for name, layer in layers.items()}
    events = sum(f["properties"].get("count", 0) for f in layers.get("events", {"features": []})["features"])
    return summary, events


def live(z, x, y):
    url = f"{base}/tiles/{z}/{x}/{y}.mvt" + (f"?{query}" if query else "")
    with urllib.request.urlopen(url) as r:
        return r.status, r.read()


info, tiles = read_pmtiles() if path.endswith(".pmtiles") else read_mbtiles()
rng = random.Random(7)
by_zoom = {}
for zxy in sorted(tiles):
    by_zoom.setdefault(zxy[0], []).append(zxy)
sample = []
for z, zxys in sorted(by_zoom.items()):
    sample += zxys if z <= 6 else rng.sample(zxys, min(30, len(zxys)))
mismatches, events_compared = [], 0
for z, x, y in sample:
    ours, events = decode(tiles[(z, x, y)])
    status, body = live(z, x, y)
    theirs, live_events = decode(body) if status == 200 else ({}, 0)
    events_compared += events
    if ours != theirs or events != live_events:
        mismatches.append({"tile": [z, x, y], "archive": [ours, events], "live": [status, theirs, live_events]})
# Addresses inside the zoom range and the header's bounds that the archive lacks: empty.
def tile_of(lon, lat, z):
    import math
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


empty_checked = 0
w, s_, e, n_ = info["bounds"]
for z in range(max(8, info["min_zoom"]), info["max_zoom"] + 1):
    (x0, y0), (x1, y1) = tile_of(w, n_, z), tile_of(e, s_, z)
    missing = [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1) if (z, x, y) not in tiles]
    for z_, x, y in rng.sample(missing, min(40, len(missing))):
        status, _ = live(z_, x, y)
        empty_checked += 1
        if status != 204:
            mismatches.append({"tile": [z_, x, y], "archive": "missing", "live": status})
print(json.dumps({"info": info, "per_zoom": {z: len(v) for z, v in by_zoom.items()},
                  "tiles": len(tiles), "compared": len(sample), "events_compared": events_compared,
                  "zooms_compared": sorted({t[0] for t in sample}), "empty_checked": empty_checked,
                  "mismatches": mismatches[:20]}))
