"""Independent answers to the analysis endpoints, compared with the server's.

Reads the events (ACLED CSV files, ISO dates) and bases (GeoJSON) itself, and computes
with GeographicLib (geodesic distances on WGS84) and the `h3` package (cells):

  analysis.py timeline BASE_URL BASES_GEOJSON QUERY EVENTS_CSV...
      per year, overall and per operator: events, fatalities, and those within reach of a
      base open that year; QUERY may hold radius_km=, operator=, from=YYYY, to=YYYY.
  analysis.py hexbins BASE_URL RES QUERY EVENTS_CSV...
      /api/hexbins?res=RES&QUERY against h3.latlng_to_cell of every event; QUERY may hold
      from=YYYY, to=YYYY, type=T.
  analysis.py tile BASE_URL Z X Y EVENTS_CSV...
      a tile of the hexbins set (decoded by mapbox-vector-tile) against the same counts.

Prints JSON: what was compared and every mismatch."""
import csv
import json
import math
import sys
import urllib.parse
import urllib.request
from collections import Counter, defaultdict

import h3
import mapbox_vector_tile
from geographiclib.geodesic import Geodesic


def read_events(files):
    events = []
    for name in files:
        with open(name, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                events.append({
                    "year": int(row["event_date"][:4]),
                    "type": row["event_type"],
                    "fatalities": int(row["fatalities"] or 0),
                    "lat": float(row["latitude"]),
                    "lon": float(row["longitude"]),
                })
    return events


def params(query):
    return dict(urllib.parse.parse_qsl(query))


def in_years(e, q):
    return (("from" not in q or e["year"] >= int(q["from"]))
            and ("to" not in q or e["year"] <= int(q["to"])))


def fetch(url):
    with urllib.request.urlopen(url) as r:
        return r.read()


def timeline(base, bases_file, query, files):
    q = params(query)
    with open(bases_file, encoding="utf-8") as f:
        bases = [b["properties"] | {"lon": b["geometry"]["coordinates"][0],
                                    "lat": b["geometry"]["coordinates"][1]}
                 for b in json.load(f)["features"]]
    if "operator" in q:
        bases = [b for b in bases if b["operator"].lower() == q["operator"].lower()]
    operators = sorted({b["operator"] for b in bases})
    expect = defaultdict(lambda: defaultdict(Counter))
    for e in filter(lambda e: in_years(e, q), read_events(files)):
        reached = set()
        for b in bases:
            opened, closed = b.get("opened"), b.get("closed")
            if (opened is not None and opened > e["year"]) or (closed is not None and closed < e["year"]):
                continue
            radius_m = 1000 * float(q.get("radius_km", b["coverage_km"]))
            d = Geodesic.WGS84.Inverse(b["lat"], b["lon"], e["lat"], e["lon"])["s12"]
            if d <= radius_m:
                reached.add(b["operator"])
        for who in ["all"] + operators:
            c = expect[e["year"]][who]
            c["events"] += 1
            c["fatalities"] += e["fatalities"]
            if (bool(reached) if who == "all" else who in reached):
                c["covered_events"] += 1
                c["covered_fatalities"] += e["fatalities"]
    got = json.loads(fetch(f"{base}/api/coverage/timeline?{query}"))
    mismatches = []
    years = {y["year"]: y for y in got["years"]}
    if sorted(years) != sorted(expect):
        mismatches.append({"years": [sorted(years), sorted(expect)]})
    fields = ["events", "fatalities", "covered_events", "covered_fatalities"]
    for year, want in expect.items():
        y = years.get(year, {})
        for who, c in want.items():
            have = y if who == "all" else y.get("by_operator", {}).get(who, {})
            for k in fields:
                if have.get(k) != c[k]:
                    mismatches.append({"year": year, "who": who, "field": k, "got": have.get(k), "want": c[k]})
            share = c["covered_fatalities"] / c["fatalities"] if c["fatalities"] else None
            if (share is None) != (have.get("share_fatalities") is None) or (
                    share is not None and abs(share - have["share_fatalities"]) > 1e-4):
                mismatches.append({"year": year, "who": who, "field": "share_fatalities",
                                   "got": have.get("share_fatalities"), "want": share})
    covered = sum(c["all"]["covered_events"] for c in expect.values())
    return {"years": len(expect), "covered": covered, "mismatches": mismatches}


def cells_of(events, res):
    cells = defaultdict(lambda: {"count": 0, "fatalities": 0, "types": Counter()})
    for e in events:
        c = cells[h3.latlng_to_cell(e["lat"], e["lon"], res)]
        c["count"] += 1
        c["fatalities"] += e["fatalities"]
        c["types"][e["type"]] += 1
    return cells


def top_type(types):
    most = max(types.values())
    return min(t for t, k in types.items() if k == most)


def compare_cell(cell, props, want, mismatches):
    for k in ("count", "fatalities"):
        if props.get(k) != want[k]:
            mismatches.append({"cell": cell, "field": k, "got": props.get(k), "want": want[k]})
    if props.get("top_type") != top_type(want["types"]):
        mismatches.append({"cell": cell, "field": "top_type", "got": props.get("top_type"),
                           "want": top_type(want["types"])})


def hexbins(base, res, query, files):
    q = params(query)
    events = [e for e in read_events(files)
              if in_years(e, q) and ("type" not in q or e["type"] == q["type"])]
    want = cells_of(events, int(res))
    got = json.loads(fetch(f"{base}/api/hexbins?res={res}&{query}"))
    mismatches = []
    have = {f["id"]: f for f in got["features"]}
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    if missing or extra:
        mismatches.append({"missing": missing[:5], "extra": extra[:5],
                           "n_missing": len(missing), "n_extra": len(extra)})
    for cell, f in have.items():
        if cell in want:
            compare_cell(cell, f["properties"], want[cell], mismatches)
            if f["properties"]["h3"] != cell or h3.get_resolution(cell) != int(res):
                mismatches.append({"cell": cell, "field": "h3"})
            ring = [tuple(p) for p in f["geometry"]["coordinates"][0]]
            outline = [(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]
            if len(ring) != len(outline) + 1 or any(
                    abs(a[0] - b[0]) > 6e-7 or abs(a[1] - b[1]) > 6e-7 for a, b in zip(ring, outline)):
                mismatches.append({"cell": cell, "field": "geometry"})
    return {"cells": len(want), "events": len(events), "mismatches": mismatches[:20]}


def tile(base, z, x, y, files):
    data = fetch(f"{base}/tiles/hexbins/{z}/{x}/{y}.mvt")
    layers = mapbox_vector_tile.decode(data) if data else {}
    features = layers.get("hexbins", {}).get("features", [])
    mismatches = []
    if not features:
        return {"features": 0, "mismatches": ["no hexbins layer"]}
    res = features[0]["properties"]["res"]
    want = cells_of(read_events(files), res)
    seen = set()
    for f in features:
        cell = f["properties"]["h3"]
        seen.add(cell)
        if cell not in want:
            mismatches.append({"cell": cell, "field": "no events there"})
            continue
        compare_cell(cell, f["properties"], want[cell], mismatches)
    # Every cell with events whose centre falls inside the tile is drawn.
    n = 2 ** int(z)
    for cell in want:
        lat, lng = h3.cell_to_latlng(cell)
        wx = (lng + 180) / 360 * n
        wy = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
        if int(wx) == int(x) and int(wy) == int(y) and cell not in seen:
            mismatches.append({"cell": cell, "field": "missing from the tile"})
    return {"features": len(features), "res": res, "cells": sorted(seen), "mismatches": mismatches[:20]}


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "timeline":
        out = timeline(args[0], args[1], args[2], args[3:])
    elif cmd == "hexbins":
        out = hexbins(args[0], args[1], args[2], args[3:])
    elif cmd == "tile":
        out = tile(args[0], args[1], args[2], args[3], args[4:])
    else:
        raise SystemExit(f"unknown command {cmd}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
