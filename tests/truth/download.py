"""Checks a download (f=csv, f=geojson) against the paged JSON answer of the same query,
read independently: Python's csv module (strict, RFC 4180 line ends) and json.
Usage: download.py BASE_URL PATH QUERY [MEMBER]
MEMBER names the collection inside the JSON answer (e.g. `uncovered` for /api/coverage).
Prints JSON: rows, the CSV header, the filename, and every mismatch between the three
(ids and order, dates, fatalities, coordinates, distances)."""
import csv
import io
import json
import sys
import urllib.request

base, path, query = sys.argv[1], sys.argv[2], sys.argv[3]
member = sys.argv[4] if len(sys.argv) > 4 else None

ACLED = ("event_id_cnty event_date year time_precision disorder_type event_type "
         "sub_event_type actor1 assoc_actor_1 inter1 actor2 assoc_actor_2 inter2 interaction "
         "civilian_targeting iso region country admin1 admin2 admin3 location latitude "
         "longitude geo_precision source source_scale notes fatalities tags timestamp").split()


def url(extra):
    q = "&".join(p for p in (query, extra) if p)
    return f"{base}{path}?{q}"


def fetch(extra):
    with urllib.request.urlopen(url(extra)) as r:
        return r.read(), dict(r.headers)


mismatches = []
raw_csv, csv_headers = fetch("f=csv")
text = raw_csv.decode("utf-8")
rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
# RFC 4180: every record ends with CRLF (line ends inside quoted fields are data).
inside = sum(field.count("\r\n") for r in rows for field in r)
if not text.endswith("\r\n") or text.count("\r\n") != len(rows) + inside:
    mismatches.append("records do not all end with CRLF")
header, records = rows[0], rows[1:]
events = header[:31] == ACLED
if not events and "longitude" not in header and "wkt" not in header:
    mismatches.append(f"unexpected CSV header {header}")
by_col = [dict(zip(header, r)) for r in records]
if any(len(r) != len(header) for r in records):
    mismatches.append("a record with a different number of fields than the header")

raw_geojson, geojson_headers = fetch("f=geojson")
collection = json.loads(raw_geojson)
features = collection["features"]

# The paged JSON answer, page by page.
paged, offset, matched = [], 0, None
while True:
    body = json.loads(fetch(f"limit=1000&offset={offset}")[0])
    page = body[member] if member else body
    matched = page["numberMatched"]
    paged.extend(page["features"])
    offset += 1000
    if offset >= matched:
        break

ids = lambda fs: [str(f["id"]) for f in fs]
csv_ids = [r["event_id_cnty"] if events else r["id"] for r in by_col]
if csv_ids != ids(paged):
    mismatches.append(f"CSV ids differ from the pages ({len(csv_ids)} vs {len(paged)})")
if ids(features) != ids(paged):
    mismatches.append(f"GeoJSON ids differ from the pages ({len(features)} vs {len(paged)})")
if collection["numberMatched"] != matched:
    mismatches.append(f"numberMatched {collection['numberMatched']} vs {matched}")
for row, f in zip(by_col, paged):
    p = f["properties"]
    if events:
        lon, lat = f["geometry"]["coordinates"]
        checks = [
            ("event_date", row["event_date"], p["event_date"]),
            ("year", row["year"], p["event_date"][:4]),
            ("event_type", row["event_type"], p["event_type"]),
            ("actor1", row["actor1"], p["actor1"]),
            ("notes", row["notes"], p["notes"]),
            ("fatalities", int(row["fatalities"]), p["fatalities"]),
            ("longitude", float(row["longitude"]), lon),
            ("latitude", float(row["latitude"]), lat),
            ("region_id", row["region_id"], p["region"] or ""),
        ]
        if "distance_km" in row:
            checks.append(("distance_km", round(float(row["distance_km"]), 3), round(p["distance_km"], 3)))
    else:
        checks = [(k, row[k], "" if p[k] is None else (p[k] if isinstance(p[k], str) else json.dumps(p[k], separators=(",", ":"))))
                  for k in header if k in p and not isinstance(p[k], (int, float))]
    for name, got, want in checks:
        if got != want:
            mismatches.append(f"{f['id']}: {name} {got!r} in the CSV, {want!r} in the page")
for g, f in zip(features, paged):
    if g != f:
        mismatches.append(f"{f['id']}: the GeoJSON feature differs from the page's")
        break

print(json.dumps({
    "rows": len(records),
    "matched": matched,
    "header": header,
    "csv_disposition": csv_headers.get("Content-Disposition") or csv_headers.get("content-disposition"),
    "csv_type": csv_headers.get("Content-Type") or csv_headers.get("content-type"),
    "geojson_disposition": geojson_headers.get("Content-Disposition") or geojson_headers.get("content-disposition"),
    "geojson_members": sorted(k for k in collection if k != "features"),
    "mismatches": mismatches[:20],
}))
