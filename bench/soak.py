#!/usr/bin/env python3
"""The soak's client (bench/soak.sh runs it): a bounded mixed load on one server for a
given time, then a consistency check.

Load, each route from its own threads at a fixed pace, over keep-alive connections:
cached tiles (the 195 varied ones), near with and without a filter, OGC pages, stats by
region, and writes (inserts, updates, deletes of written events and of events from the
files). Every answer that is not the expected status is an error. Prints, per route:
requests, errors, p50 / p99 / max in ms.

Check: the events per year that /api/stats reports = those computed here from the data
files and the store (GeoPackage, read with sqlite3), and = what this client wrote.

    soak.py BASE_URL KEY SECONDS STORE_GPKG FILE...     (exit 1 on any error or mismatch)
"""
import csv
import http.client
import json
import random
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse

base, key, seconds, store = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
files = sys.argv[5:]
url = urllib.parse.urlsplit(base)
here = __file__.rsplit("/", 1)[0]
tiles = subprocess.run([sys.executable, f"{here}/tiles.py"], check=True, capture_output=True,
                       text=True).stdout.split()[:195]
towns = ["Mopti", "Gao", "Timbuktu", "Kidal", "Segou", "Bankass", "Douentza", "Menaka"]
stop_at = time.monotonic() + seconds
lock = threading.Lock()
latencies = {}   # route -> [seconds]
errors = {}      # route -> [(status, body start)]
written = {}     # id written and alive -> year
deleted_from_files = set()


def record(route, took, status, ok, body):
    with lock:
        latencies.setdefault(route, []).append(took)
        if not ok:
            errors.setdefault(route, []).append((status, body[:200]))


def paced(route, per_second, make):
    """Calls make(conn) -> (method, path, body, headers, expected statuses, after) at
    per_second until the end; `after(status, body)` runs on success."""
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    rng = random.Random(route)
    interval = 1.0 / per_second
    next_at = time.monotonic() + rng.random() * interval
    while True:
        now = time.monotonic()
        if now >= stop_at:
            return
        if next_at > now:
            time.sleep(next_at - now)
        next_at += interval
        method, path, body, headers, expected, after = make(rng)
        t0 = time.monotonic()
        try:
            conn.request(method, path, body, headers)
            resp = conn.getresponse()
            data = resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException) as e:
            status, data = 0, str(e).encode()
            conn.close()
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        took = time.monotonic() - t0
        ok = status in expected
        record(route, took, status, ok, data.decode("utf-8", "replace"))
        if ok and after:
            after(status, data)


def tile(rng):
    return "GET", rng.choice(tiles), None, {"Accept-Encoding": "gzip"}, (200, 204), None


def near(rng):
    town = rng.choice(towns)
    path = f"/api/events?near={town}&radius_km=50&limit=100"
    if rng.random() < 0.5:
        path += "&from=2018&type=Battles"
    return "GET", path, None, {}, (200,), None


def ogc(rng):
    path = f"/ogc/collections/events/items?limit=100&offset={rng.randrange(0, 100000)}"
    return "GET", path, None, {}, (200,), None


def stats(rng):
    return "GET", f"/api/stats?group_by=region&from={rng.randrange(2010, 2021)}", None, {}, (200,), None


auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/geo+json"}
serial = iter(range(10**9))


def write(rng):
    """70% inserts, 15% updates and 10% deletes of written events, 5% deletes of events
    from the files (seed 7's ids)."""
    roll = rng.random()
    with lock:
        alive = list(written) if roll >= 0.7 else []
    if roll < 0.7 or not alive:
        eid, method, path = f"SOAK-{next(serial)}", "POST", "/api/events"
    elif roll < 0.85:
        eid = rng.choice(alive)
        method, path = "PUT", f"/api/events/{eid}"
    elif roll < 0.95:
        eid = rng.choice(alive)

        def forget(status, body, eid=eid):
            with lock:
                written.pop(eid, None)
        return "DELETE", f"/api/events/{eid}", None, auth, (204,), forget
    else:
        eid = f"SYN7-{rng.randrange(0, 1000000):07d}"

        def hide(status, body, eid=eid):
            if status == 204:
                with lock:
                    deleted_from_files.add(eid)
        # 404 when this client deleted it already (or, with fewer events, never there).
        return "DELETE", f"/api/events/{eid}", None, auth, (204, 404), hide
    year = rng.randrange(2012, 2021)
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [rng.uniform(-8, 1), rng.uniform(12, 18)]},
        "properties": {"event_id_cnty": eid, "event_date": f"{year}-{rng.randint(1, 12):02d}-15",
                       "event_type": "Battles", "fatalities": rng.randint(0, 5)},
    }

    def keep(status, body, eid=eid, year=year):
        with lock:
            written[eid] = year
    return method, path, json.dumps(feature), auth, (200, 201), keep


plan = [("tiles", tile, 250)] * 4 + [("near", near, 20), ("ogc page", ogc, 10),
                                     ("stats", stats, 2), ("writes", write, 10)]
threads = [threading.Thread(target=paced, args=(route, rate, make)) for route, make, rate in plan]
for t in threads:
    t.start()
for t in threads:
    t.join()


def ms(xs, q):
    xs = sorted(xs)
    return 1000 * xs[min(len(xs) - 1, int(q * len(xs)))]


print("| route | requests | errors | p50 ms | p99 ms | max ms |")
print("|---|---|---|---|---|---|")
failed = False
for route, xs in sorted(latencies.items()):
    n_err = len(errors.get(route, []))
    failed |= n_err > 0
    print(f"| {route} | {len(xs)} | {n_err} | {ms(xs, 0.5):.1f} | {ms(xs, 0.99):.1f} | {1000 * max(xs):.1f} |")
for route, errs in errors.items():
    print(f"{route}: first errors: {errs[:3]}", file=sys.stderr)

# The check: events per year from the files and the store, against the server's answer.
years = {}
file_ids = set()
for f in files:
    with open(f, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            file_ids.add(row["event_id_cnty"])
            y = int(row["event_date"][:4])
            years[row["event_id_cnty"]] = y
db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
stored = dict(db.execute("SELECT event_id_cnty, year FROM events"))
hidden = {r[0] for r in db.execute("SELECT event_id FROM sahel_deleted")}
years.update(stored)
for eid in hidden:
    years.pop(eid, None)
expected = {}
for y in years.values():
    expected[y] = expected.get(y, 0) + 1
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
conn.request("GET", "/api/stats?group_by=year")
served = {int(g["key"]): g["count"] for g in json.loads(conn.getresponse().read())["groups"]}
ledger_written = {eid for eid in stored if eid.startswith("SOAK-")}
print(f"check: {sum(expected.values())} events from the files ({len(file_ids)}) and the store "
      f"({len(stored)} written, {len(hidden)} deleted); the server reports {sum(served.values())}")
if served != expected:
    failed = True
    diff = {y: (served.get(y), expected.get(y)) for y in set(served) | set(expected)
            if served.get(y) != expected.get(y)}
    print(f"MISMATCH per year (served, files+store): {diff}")
# After a restart (SECONDS = 0) this client has no ledger: files + store vs served only.
if seconds > 0 and ledger_written != set(written):
    failed = True
    print(f"MISMATCH: the store holds {len(ledger_written)} written events, this client "
          f"kept {len(written)}")
if not deleted_from_files <= hidden:
    failed = True
    print("MISMATCH: file events this client deleted are not all hidden in the store")
print("check: ok" if not failed else "check: FAILED")
sys.exit(1 if failed else 0)
