"""Posts one-event GeoJSON writes back to back over one keep-alive connection until
stopped (SIGTERM/SIGINT), then prints how many were acknowledged. Positions and dates vary
across Mali, as real reports do. Usage: post_loop.py BASE_URL KEY [PREFIX]"""
import http.client
import json
import random
import signal
import sys
import urllib.parse

base, key = sys.argv[1], sys.argv[2]
prefix = sys.argv[3] if len(sys.argv) > 3 else "LOAD"
url = urllib.parse.urlsplit(base)
conn = http.client.HTTPConnection(url.hostname, url.port)
rng = random.Random(1)
done = 0
stop = False


def finish(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, finish)
signal.signal(signal.SIGINT, finish)
while not stop:
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [rng.uniform(-8, 1), rng.uniform(12, 18)]},
        "properties": {
            "event_id_cnty": f"{prefix}-{done}",
            "event_date": f"2020-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "event_type": "Battles",
            "fatalities": rng.randint(0, 5),
        },
    }
    conn.request("POST", "/api/events", json.dumps(feature), {
        "Authorization": f"Bearer {key}", "Content-Type": "application/geo+json"})
    resp = conn.getresponse()
    resp.read()
    if resp.status != 201:
        sys.exit(f"write {done}: HTTP {resp.status}")
    done += 1
print(done)
