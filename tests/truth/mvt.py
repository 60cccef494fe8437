#!/usr/bin/env python3
"""Independent decoding of our vector tiles for the tests.

Decodes with the `mapbox-vector-tile` package (its own protobuf reader), not with our
encoder's crate, and compares region polygons with the source GeoJSON using shapely.

    mvt.py decode TILE...
        prints {layer: {"extent": n, "version": v, "features": [{"type", "coordinates",
        "properties"}], "polygon_ring_areas": [[signed area of each ring] per polygon feature]}}
        with coordinates in tile units, y down (gzip input is accepted); for several
        tiles, a list of those in the same order
    mvt.py same A B [A B ...]
        for each pair of tiles, whether they decode to the same layers (name, version,
        extent), the same features in the same order with the same properties, and the
        same geometry (points exactly; lines and polygons as shapely finds them equal,
        so a collinear vertex one encoder drops and the other keeps is no difference);
        prints {"pairs": n, "features": total, "differences": [...]}
    mvt.py region-area TILE Z X Y REGIONS.geojson
        prints {region id: {"tile": area, "source": area, "sym_diff": area, "perimeter": length}}
        in tile units,
        both sides cut to the tile square; also "invalid": ids whose decoded polygon is invalid
"""
import gzip
import json
import math
import sys

import mapbox_vector_tile
import numpy as np
import shapely
from shapely.geometry import box, shape


def read(path):
    data = open(path, "rb").read()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def load(path):
    return mapbox_vector_tile.decode(read(path), default_options={"y_coord_down": True})


def zigzag(n):
    return (n >> 1) ^ -(n & 1)


def raw_ring_areas(path):
    """Twice the signed area (surveyor's formula, tile coordinates, y down) of every ring
    of every polygon feature, read straight from the protobuf commands: the decoder above
    silently accepts either winding, so winding is checked here."""
    from mapbox_vector_tile.Mapbox import vector_tile_pb2

    tile = vector_tile_pb2.tile()
    tile.ParseFromString(read(path))
    out = {}
    for layer in tile.layers:
        per_feature = []
        for feature in layer.features:
            if feature.type != 3:  # POLYGON
                continue
            g, i, x, y, rings, ring = list(feature.geometry), 0, 0, 0, [], []
            while i < len(g):
                cmd, count = g[i] & 7, g[i] >> 3
                i += 1
                if cmd == 7:  # ClosePath
                    rings.append(ring)
                    ring = []
                    continue
                for _ in range(count):
                    x += zigzag(g[i])
                    y += zigzag(g[i + 1])
                    i += 2
                    if cmd == 1:  # MoveTo starts a ring
                        ring = []
                    ring.append((x, y))
            per_feature.append([
                sum(r[k][0] * r[(k + 1) % len(r)][1] - r[(k + 1) % len(r)][0] * r[k][1]
                    for k in range(len(r)))
                for r in rings
            ])
        out[layer.name] = {"version": layer.version, "polygon_ring_areas": per_feature}
    return out


def decode(*paths):
    tiles = []
    for p in paths:
        t = decoded(p)
        for name, raw in raw_ring_areas(p).items():
            t[name].update(raw)
        tiles.append(t)
    json.dump(tiles[0] if len(tiles) == 1 else tiles, sys.stdout)


def decoded(path):
    out = {}
    for name, layer in load(path).items():
        out[name] = {
            "extent": layer["extent"],
            "features": [
                {"type": f["geometry"]["type"], "coordinates": f["geometry"]["coordinates"],
                 "properties": f["properties"]}
                for f in layer["features"]
            ],
        }
    return out


def same(*paths):
    differences, features = [], 0
    for a, b in zip(paths[::2], paths[1::2]):
        ta, tb = load(a), load(b)
        ra, rb = raw_ring_areas(a), raw_ring_areas(b)
        if sorted(ta) != sorted(tb):
            differences.append({"tile": a, "layers": [sorted(ta), sorted(tb)]})
            continue
        for name in ta:
            la, lb = ta[name], tb[name]
            if (la["extent"], ra[name]["version"]) != (lb["extent"], rb[name]["version"]):
                differences.append({"tile": a, "layer": name, "header": "extent or version"})
            fa, fb = la["features"], lb["features"]
            if len(fa) != len(fb):
                differences.append({"tile": a, "layer": name, "count": [len(fa), len(fb)]})
                continue
            for i, (x, y) in enumerate(zip(fa, fb)):
                features += 1
                problem = feature_difference(x, y)
                if problem:
                    differences.append({"tile": a, "layer": name, "feature": i, "problem": problem})
    json.dump({"pairs": len(paths) // 2, "features": features, "differences": differences[:20]},
              sys.stdout)


def feature_difference(x, y):
    if x["properties"] != y["properties"]:
        return {"properties": [x["properties"], y["properties"]]}
    gx, gy = x["geometry"], y["geometry"]
    if gx["type"] != gy["type"]:
        return {"type": [gx["type"], gy["type"]]}
    if "Point" in gx["type"]:
        return None if gx["coordinates"] == gy["coordinates"] else {"points": [gx, gy]}
    a, b = shape(gx), shape(gy)
    # A clipped ring may fold back along the tile's buffer edge (invalid, zero width):
    # compared as the valid shapes they stand for.
    if not (a.equals(b) or shapely.make_valid(a).equals(shapely.make_valid(b))):
        return {"geometry": [gx, gy]}
    return None


def region_area(path, z, x, y, regions_path):
    z, x, y = int(z), int(x), int(y)
    n = 2 ** z

    def to_tile(lonlat):
        # Standard Web Mercator slippy-map formula, written out here on purpose.
        lon, lat = lonlat[:, 0], np.radians(lonlat[:, 1])
        wx = (lon + 180.0) / 360.0
        wy = (1.0 - np.log(np.tan(lat) + 1.0 / np.cos(lat)) / math.pi) / 2.0
        return np.column_stack(((wx * n - x) * 4096.0, (wy * n - y) * 4096.0))

    square = box(0, 0, 4096, 4096)
    decoded = {f["properties"]["id"]: f for f in load(path).get("regions", {}).get("features", [])}
    with open(regions_path, encoding="utf-8") as fh:
        source = {f["properties"]["id"]: shape(f["geometry"]) for f in json.load(fh)["features"]}
    out = {"invalid": []}
    for rid, geom in source.items():
        src = shapely.transform(geom, to_tile).intersection(square)
        if src.is_empty:
            continue
        f = decoded.get(rid)
        got = shape(f["geometry"]) if f else None
        if got is not None and not got.is_valid:
            out["invalid"].append(rid)
            got = got.buffer(0)
        got = got.intersection(square) if got is not None else None
        out[rid] = {
            "tile": got.area if got is not None else 0.0,
            "source": src.area,
            "sym_diff": src.symmetric_difference(got).area if got is not None else src.area,
            "perimeter": src.boundary.length,
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    {"decode": decode, "same": same, "region-area": region_area}[cmd](*args)
