#!/usr/bin/env python3
"""Independent ground truth for the integration tests.

Uses Charles Karney's own GeographicLib (the Python package `geographiclib`), not the Rust
code under test, and reads the data files with Python's csv/json modules, not our loaders.

    geodesic.py ring --lon X --lat Y --out FILE.csv
        writes an ACLED-format fixture of events at known geodesic distances around a
        centre, some a few metres either side of 50 km, including north-south pairs where
        haversine (spherical) distance would put them on the wrong side
    geodesic.py within --lon X --lat Y --radius KM CSV...
        prints {"event id": distance_km} for the events of the CSVs within the radius
    geodesic.py coverage BASES.geojson CSV...
        prints {"base id": {"event id": distance_km}} using each base's coverage_km
    geodesic.py nearest --lon X --lat Y --k K CSV...
        prints [[event id, distance_km], ...] for the K nearest events
    geodesic.py regions REGIONS.geojson CSV...
        prints {"event id": [region id containing it (shapely) or null,
                            degrees from the point to the border of its admin1 region]}
"""
import argparse
import csv
import json
import math
import sys

from geographiclib.geodesic import Geodesic

WGS84 = Geodesic.WGS84


def read_events(paths):
    events = []
    for p in paths:
        with open(p, encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f):
                events.append((row["event_id_cnty"], float(row["longitude"]), float(row["latitude"])))
    return events


def dist_km(lon1, lat1, lon2, lat2):
    return WGS84.Inverse(lat1, lon1, lat2, lon2)["s12"] / 1000.0


def haversine_km(lon1, lat1, lon2, lat2, r=6371.0088):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def ring(a):
    header = ["event_id_cnty", "event_date", "year", "event_type", "sub_event_type", "actor1",
              "actor2", "admin1", "location", "latitude", "longitude", "geo_precision",
              "fatalities", "source", "notes"]
    rows = []
    n = 0
    # Distances straddling 50 km by 2 m, 20 m and 1 km, on 12 bearings.
    for bearing in range(0, 360, 30):
        for d in (49.0, 49.98, 49.998, 50.002, 50.02, 51.0):
            g = WGS84.Direct(a.lat, a.lon, bearing, d * 1000.0)
            n += 1
            rows.append((n, g["lon2"], g["lat2"], "geodesic %.3f km at %d deg" % (d, bearing)))
    # North-south points where the spherical distance disagrees with the ellipsoid about
    # being within 50 km.
    for bearing in (0, 180):
        for d in (49.80, 49.85, 49.9, 50.1, 50.15):
            g = WGS84.Direct(a.lat, a.lon, bearing, d * 1000.0)
            h = haversine_km(a.lon, a.lat, g["lon2"], g["lat2"])
            n += 1
            rows.append((n, g["lon2"], g["lat2"], "geodesic %.3f km, haversine %.3f km" % (d, h)))
    with open(a.out, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i, lon, lat, note in rows:
            w.writerow(["TEST-RING-%03d" % i, "2019-06-%02d" % (1 + i % 28), "2019", "Battles",
                        "Armed clash", "Test actor %d" % (i % 3), "", "Mopti", "test ring",
                        "%.9f" % lat, "%.9f" % lon, "1", str(i % 5), "test fixture", note])


def within(a):
    out = {}
    for eid, lon, lat in read_events(a.csv):
        d = dist_km(a.lon, a.lat, lon, lat)
        if d <= a.radius:
            out[eid] = d
    json.dump(out, sys.stdout)


def coverage(a):
    with open(a.bases, encoding="utf-8") as f:
        bases = json.load(f)["features"]
    events = read_events(a.csv)
    out = {}
    for b in bases:
        lon, lat = b["geometry"]["coordinates"]
        r = b["properties"]["coverage_km"]
        out[b["properties"]["id"]] = {
            eid: d for eid, elon, elat in events
            if (d := dist_km(lon, lat, elon, elat)) <= r
        }
    json.dump(out, sys.stdout)


def nearest(a):
    ranked = sorted((dist_km(a.lon, a.lat, lon, lat), eid) for eid, lon, lat in read_events(a.csv))
    json.dump([[eid, d] for d, eid in ranked[: a.k]], sys.stdout)


def regions(a):
    from shapely.geometry import Point, shape  # only this check needs shapely

    with open(a.regions, encoding="utf-8") as f:
        polys = [(r["properties"]["id"], r["properties"]["name"], shape(r["geometry"]))
                 for r in json.load(f)["features"]]
    aliases = {"Segou": "Ségou", "Tombouctou": "Timbuktu"}
    out = {}
    for p in a.csv:
        with open(p, encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f):
                pt = Point(float(row["longitude"]), float(row["latitude"]))
                inside = [rid for rid, _, g in polys if g.covers(pt)]
                admin1 = aliases.get(row["admin1"], row["admin1"])
                border = [g.boundary.distance(pt) for _, name, g in polys if name == admin1]
                out[row["event_id_cnty"]] = [min(inside) if inside else None,
                                             border[0] if border else None]
    json.dump(out, sys.stdout)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("ring")
    r.add_argument("--lon", type=float, required=True)
    r.add_argument("--lat", type=float, required=True)
    r.add_argument("--out", required=True)
    w = sub.add_parser("within")
    w.add_argument("--lon", type=float, required=True)
    w.add_argument("--lat", type=float, required=True)
    w.add_argument("--radius", type=float, required=True)
    w.add_argument("csv", nargs="+")
    c = sub.add_parser("coverage")
    c.add_argument("bases")
    c.add_argument("csv", nargs="+")
    n = sub.add_parser("nearest")
    n.add_argument("--lon", type=float, required=True)
    n.add_argument("--lat", type=float, required=True)
    n.add_argument("--k", type=int, required=True)
    n.add_argument("csv", nargs="+")
    g = sub.add_parser("regions")
    g.add_argument("regions")
    g.add_argument("csv", nargs="+")
    a = ap.parse_args()
    {"ring": ring, "within": within, "coverage": coverage, "nearest": nearest,
     "regions": regions}[a.cmd](a)


if __name__ == "__main__":
    main()
