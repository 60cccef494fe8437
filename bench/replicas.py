"""Write throughput and replication lag between replicas, on loopback.
  replicas.py throughput BASE KEY SECS CLIENTS   one-event POSTs back to back from CLIENTS
                                                 keep-alive connections: writes/s, p50/p99
  replicas.py lag A B KEY N                      N writes to A (then to B), each timed until
                                                 the other answers GET /api/events/ID"""
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse


def conn(base):
    u = urllib.parse.urlsplit(base)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def post(c, key, ident, rng):
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [rng.uniform(-8, 1), rng.uniform(12, 18)]},
        "properties": {"event_id_cnty": ident, "event_date": "2024-0%d-1%d" % (rng.randint(1, 9), rng.randint(0, 9)),
                       "event_type": "Battles", "fatalities": rng.randint(0, 9),
                       "notes": "bench/replicas.py"},
    }
    c.request("POST", "/api/events", json.dumps(feature),
              {"Authorization": "Bearer " + key, "Content-Type": "application/geo+json"})
    r = c.getresponse()
    r.read()
    if r.status != 201:
        raise SystemExit(f"POST {ident}: {r.status}")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def throughput(base, key, secs, clients):
    times, lock = [], threading.Lock()
    deadline = time.monotonic() + secs

    def run(n):
        c, rng, mine, k = conn(base), random.Random(n), [], 0
        while time.monotonic() < deadline:
            t = time.monotonic()
            post(c, key, f"TPUT-{n}-{k}-{time.time_ns()}", rng)
            mine.append(time.monotonic() - t)
            k += 1
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"writes": len(times), "per_sec": round(len(times) / secs, 1),
                      "p50_ms": round(pct(times, 50) * 1e3, 2), "p99_ms": round(pct(times, 99) * 1e3, 2)}))


def lag(a, b, key, n):
    rng, lags = random.Random(7), []
    for k in range(n):
        src, dst = (a, b) if k % 2 == 0 else (b, a)
        ident = f"LAG-{k}-{time.time_ns()}"
        cs, cd = conn(src), conn(dst)
        post(cs, key, ident, rng)
        t = time.monotonic()
        while True:
            cd.request("GET", "/api/events/" + ident)
            r = cd.getresponse()
            r.read()
            if r.status == 200:
                break
            if time.monotonic() - t > 5:
                raise SystemExit(f"{ident} not on {dst} after 5 s")
            time.sleep(0.001)
        lags.append(time.monotonic() - t)
    print(json.dumps({"writes": n, "p50_ms": round(pct(lags, 50) * 1e3, 1),
                      "p99_ms": round(pct(lags, 99) * 1e3, 1), "max_ms": round(max(lags) * 1e3, 1)}))


if sys.argv[1] == "throughput":
    throughput(sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]))
else:
    lag(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
