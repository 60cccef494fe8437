#!/usr/bin/env python3
"""Build the shipped geodata/ from the extracted sources in ../shared/data.

Run by a developer when the sources change; its outputs are committed, and the
service never reads ../shared at run time. Standard library only.

    python3 scripts/build_geodata.py [--src ../shared/data] [--out geodata]
"""
import argparse
import csv
import json
import os
import shutil


def read_fc(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_fc(path, features, metadata):
    fc = {"type": "FeatureCollection", "metadata": metadata, "features": features}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(fc, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def num(s):
    s = s.strip()
    if s == "":
        return None
    return int(s) if s.lstrip("-").isdigit() else float(s)


def regions(src):
    fc = read_fc(os.path.join(src, "mali_regions.geojson"))
    by_region = {}
    with open(os.path.join(src, "region_fatalities_acled_1997_2018.csv"), encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by_region.setdefault(row["region_id"], {})[row["year"]] = int(row["fatalities"])
    out = []
    for feat in fc["features"]:
        p = feat["properties"]
        rid = p["iso_3166_2"]
        years = dict(sorted(by_region.get(rid, {}).items()))
        out.append({
            "type": "Feature",
            "id": rid,
            "geometry": feat["geometry"],
            "properties": {
                "id": rid,
                "name": p["name"],
                "name_fr": p["name_fr"],
                "fatalities_by_year": years,
                "label_lon": p["label_lon"],
                "label_lat": p["label_lat"],
            },
        })
    out.sort(key=lambda f: f["id"])
    return out, {
        "source": fc["metadata"]["source"] + "; fatalities_by_year: ACLED as printed in EPON 2019 "
        "'Assessing the Effectiveness of MINUSMA', Figure 5",
        "caveat": fc["metadata"]["caveat"],
    }


def basemap(src, name, keep):
    fc = read_fc(os.path.join(src, name))
    feats = []
    for feat in fc["features"]:
        p = feat["properties"]
        props = {k: p[k] for k in keep if k in p and p[k] is not None}
        if p.get("name_assigned"):
            props["name"] = p["name_assigned"]
        feats.append({"type": "Feature", "geometry": feat["geometry"], "properties": props})
    return feats, fc["metadata"]


def places(src):
    fc = read_fc(os.path.join(src, "towns.geojson"))
    out = []
    for feat in fc["features"]:
        p = feat["properties"]
        out.append({
            "type": "Feature",
            "id": "gn-%d" % p["geonameid"],
            "geometry": feat["geometry"],
            "properties": {
                "id": "gn-%d" % p["geonameid"],
                "name": p["name"],
                "alt_names": [a for a in p["alternatenames"] if a != p["name"]],
                "population": p["population"],
                "feature_code": p["feature_code"],
                "source": "GeoNames %d (CC BY 4.0)" % p["geonameid"],
            },
        })
    with open(os.path.join(src, "places_supplement.csv"), encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f), start=1):
            pid = "sup-%02d" % i
            out.append({
                "type": "Feature",
                "id": pid,
                "geometry": {"type": "Point", "coordinates": [float(row["lon"]), float(row["lat"])]},
                "properties": {
                    "id": pid,
                    "name": row["name"],
                    "alt_names": [a for a in row["alt_names"].split(";") if a],
                    "population": None,
                    "feature_code": None,
                    "source": row["source"],
                },
            })
    return out, {
        "source": "GeoNames cities500 (towns.geojson) + places_supplement.csv (Wikipedia infobox "
        "coordinates, cited per feature)",
        "attribution": "Contains data from GeoNames (geonames.org), licensed CC BY 4.0",
    }


def bases(src):
    out = []
    with open(os.path.join(src, "bases.csv"), encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out.append({
                "type": "Feature",
                "id": row["id"],
                "geometry": {"type": "Point", "coordinates": [float(row["lon"]), float(row["lat"])]},
                "properties": {
                    "id": row["id"],
                    "name": row["name"],
                    "operator": row["operator"],
                    "kind": row["kind"],
                    "sector": row["sector"] or None,
                    "town": row["town"],
                    "opened": num(row["opened"]),
                    "closed": num(row["closed"]),
                    "coverage_km": num(row["coverage_km"]),
                    "source": row["source"],
                },
            })
    return out, {
        "source": "bases.csv, curated from cited reference documents and press (per feature); "
        "coordinates are those of the town the camp sits at",
        "caveat": "coverage_km is a modelling default, not a sourced fact",
    }


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--src", default=os.path.join(here, "..", "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(here, "..", "geodata"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    write_fc(os.path.join(a.out, "regions.geojson"), *regions(a.src))
    write_fc(os.path.join(a.out, "country.geojson"),
             *basemap(a.src, "mali_country.geojson", ["name", "name_fr", "iso_a3"]))
    write_fc(os.path.join(a.out, "neighbours.geojson"),
             *basemap(a.src, "neighbours.geojson", ["name", "name_fr", "iso_a3"]))
    write_fc(os.path.join(a.out, "rivers.geojson"),
             *basemap(a.src, "rivers_ne50m_region.geojson", ["name_source"]))
    write_fc(os.path.join(a.out, "lakes.geojson"),
             *basemap(a.src, "lakes.geojson", ["name_source"]))
    write_fc(os.path.join(a.out, "places.geojson"), *places(a.src))
    write_fc(os.path.join(a.out, "bases.geojson"), *bases(a.src))
    shutil.copyfile(os.path.join(a.src, "events_seed.csv"), os.path.join(a.out, "events.csv"))


if __name__ == "__main__":
    main()
