#!/usr/bin/env bash
# Side by side on 127.0.0.1: Sahel Atlas and Martin 1.14 (the Rust tile server) serving the same
# N synthetic events, Martin from PostGIS. Same tile list (bench/tiles.py), same wrk settings.
# Also checks our "events within 50 km of Mopti" count against PostGIS ST_DWithin(geography).
#
#   bench/martin.sh [N_EVENTS]     default 1000000; DUR=10s CONNS=32 THREADS=2
#
# Installs what it needs: Debian's postgresql-15-postgis-3 and wrk, and Martin built from
# crates.io into target/bench-tools (about 10 minutes on 2 cores, once). Run as root or with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-1000000}
DUR=${DUR:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
PGPORT=${PGPORT:-55432}
MARTIN_PORT=${MARTIN_PORT:-3033}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

[ -d /usr/share/postgresql/15/extension ] && ls /usr/share/postgresql/15/extension/postgis.control >/dev/null 2>&1 \
  || { as_root apt-get update -q; as_root apt-get install -y -q postgresql-15-postgis-3; }
command -v wrk >/dev/null || as_root apt-get install -y -q wrk
MARTIN=target/bench-tools/bin/martin
[ -x "$MARTIN" ] || cargo install martin@1.14.0 --locked --no-default-features --features postgres --root target/bench-tools
cargo build --release --locked -q
BIN=./target/release/sahel-atlas
DATA=$(pwd)/target/bench-data/events_${N}_seed7.csv
mkdir -p target/bench-data
[ -f "$DATA" ] || "$BIN" gen-events --n "$N" --seed 7 --out "$DATA" >/dev/null

TMP=$(mktemp -d)
chmod 755 "$TMP"
PGDATA=$TMP/pg
PG=/usr/lib/postgresql/15/bin
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  as_root runuser -u postgres -- "$PG/pg_ctl" -D "$PGDATA" stop -m fast >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

# PostGIS with the same events (the shipped 72 plus the synthetic ones).
mkdir -p "$PGDATA" && as_root chown postgres "$PGDATA"
as_root runuser -u postgres -- "$PG/initdb" -D "$PGDATA" -A trust >/dev/null
as_root runuser -u postgres -- "$PG/pg_ctl" -D "$PGDATA" -o "-p $PGPORT -k $PGDATA -c listen_addresses=127.0.0.1" -l "$PGDATA/server.log" start >/dev/null
PSQL=(psql -h 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -q)
"${PSQL[@]}" -c "CREATE DATABASE sahel"
cp "$DATA" "$TMP/synthetic.csv" && cp geodata/events.csv "$TMP/shipped.csv" && chmod 644 "$TMP"/*.csv
t0=$(date +%s)
"${PSQL[@]}" -d sahel <<SQL
CREATE EXTENSION postgis;
CREATE TABLE raw_syn (event_id_cnty text, event_date date, year int, event_type text, sub_event_type text,
  actor1 text, actor2 text, admin1 text, location text, latitude float8, longitude float8,
  geo_precision int, fatalities int, source text, notes text);
\copy raw_syn FROM '$TMP/synthetic.csv' CSV HEADER
CREATE TABLE raw_seed (event_id_cnty text, event_date date, year int, time_precision int, disorder_type text,
  event_type text, sub_event_type text, actor1 text, actor2 text, admin1 text, admin2 text, location text,
  latitude float8, longitude float8, geo_precision int, source text, notes text, fatalities int);
\copy raw_seed FROM '$TMP/shipped.csv' CSV HEADER
CREATE TABLE events AS
  SELECT event_id_cnty AS id, event_date::text AS event_date, event_type, sub_event_type, actor1, fatalities, location,
         ST_SetSRID(ST_MakePoint(longitude, latitude), 4326) AS geom FROM raw_syn
  UNION ALL
  SELECT event_id_cnty, event_date::text, event_type, sub_event_type, actor1, fatalities, location,
         ST_SetSRID(ST_MakePoint(longitude, latitude), 4326) FROM raw_seed;
ALTER TABLE events ALTER COLUMN geom TYPE geometry(Point, 4326) USING geom;
CREATE INDEX ON events USING gist (geom);
ANALYZE events;
DROP TABLE raw_syn; DROP TABLE raw_seed;
SQL
echo "PostGIS: loaded and indexed in $(( $(date +%s) - t0 )) s" >&2

# Ground truth: PostGIS geography distance vs ours.
pg_count=$("${PSQL[@]}" -d sahel -At -c "SELECT count(*) FROM events WHERE ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(-4.18296, 14.4843), 4326)::geography, 50000, true)")

# serve_atlas NAME ARGS...: prints the server's base URL.
serve_atlas() {
  local name=$1; shift
  RUST_LOG=warn "$BIN" serve --addr 127.0.0.1:0 --events "$DATA" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PIDS+=($!)
  for _ in $(seq 1 600); do grep -q '^listening on ' "$TMP/$name.out" && break; sleep 0.05; done
  sed -n 's/^listening on //p' "$TMP/$name.out"
}
ATLAS=$(serve_atlas atlas)
ATLAS_COLD=$(serve_atlas atlas_cold --tile-cache-mb 0)
ours=$(curl -s "$ATLAS/api/events?near=Mopti&radius_km=50&limit=0" | python3 -c 'import json,sys; print(json.load(sys.stdin)["numberMatched"])')
echo "events within 50 km of Mopti: Sahel Atlas $ours, PostGIS ST_DWithin(geography) $pg_count" >&2
[ "$ours" = "$pg_count" ] || echo "MISMATCH" >&2

"$MARTIN" --listen-addresses "127.0.0.1:$MARTIN_PORT" "postgresql://postgres@127.0.0.1:$PGPORT/sahel" >"$TMP/martin.log" 2>&1 &
PIDS+=($!)
"$MARTIN" --cache-size 0 --listen-addresses "127.0.0.1:$((MARTIN_PORT + 1))" "postgresql://postgres@127.0.0.1:$PGPORT/sahel" >"$TMP/martin_cold.log" 2>&1 &
PIDS+=($!)
MARTIN_URL=http://127.0.0.1:$MARTIN_PORT
MARTIN_COLD=http://127.0.0.1:$((MARTIN_PORT + 1))
for _ in $(seq 1 600); do curl -sf "$MARTIN_URL/catalog" >/dev/null 2>&1 && break; sleep 0.1; done
curl -s "$MARTIN_URL/catalog" | grep -q '"events"' || { echo "Martin does not publish events:" >&2; cat "$TMP/martin.log" >&2; exit 1; }

python3 bench/tiles.py '/tiles/{z}/{x}/{y}.mvt' >"$TMP/atlas_paths.txt"
python3 bench/tiles.py '/events/{z}/{x}/{y}' >"$TMP/martin_paths.txt"

measure() { # LABEL URL [PATHS]
  local out
  if [ -n "${3:-}" ]; then
    out=$(PATHS="$3" wrk --latency -t"$THREADS" -c"$CONNS" -d"$DUR" -s bench/wrk_paths.lua "$2")
  else
    out=$(wrk --latency -t"$THREADS" -c"$CONNS" -d"$DUR" "$2")
  fi
  printf '| %s | %s | %s | %s |\n' "$1" "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
    "$(echo "$out" | awk '$1=="50%" {print $2}')" "$(echo "$out" | awk '$1=="99%" {print $2}')"
}
size() { curl -s -o /dev/null -w '%{size_download}' "$1"; }

for _ in $(seq 1 600); do curl -sf "$MARTIN_COLD/catalog" >/dev/null 2>&1 && break; sleep 0.1; done
# Warm both (one pass over the list), then measure.
while read -r p; do curl -s -o /dev/null "$ATLAS$p"; done <"$TMP/atlas_paths.txt"
while read -r p; do curl -s -o /dev/null "$MARTIN_URL$p"; done <"$TMP/martin_paths.txt"

echo
echo "$N synthetic + 72 shipped events; wrk -t$THREADS -c$CONNS -d$DUR on 127.0.0.1, same 200 tiles z5-z12"
echo
echo '| server, scenario | req/s | p50 | p99 |'
echo '|---|---|---|---|'
measure "Sahel Atlas, hot tile 6/31/29" "$ATLAS/tiles/6/31/29.mvt"
measure "Martin, hot tile 6/31/29" "$MARTIN_URL/events/6/31/29"
measure "Sahel Atlas, 200 varied tiles" "$ATLAS" "$TMP/atlas_paths.txt"
measure "Martin, 200 varied tiles" "$MARTIN_URL" "$TMP/martin_paths.txt"
measure "Sahel Atlas, 200 varied tiles, cache off" "$ATLAS_COLD" "$TMP/atlas_paths.txt"
measure "Martin, 200 varied tiles, cache off" "$MARTIN_COLD" "$TMP/martin_paths.txt"
echo
echo '| tile | Sahel Atlas bytes | Martin bytes |'
echo '|---|---|---|'
for t in 4/7/7 5/15/14 6/31/29 8/124/117 10/500/470 12/2000/1880; do
  printf '| %s | %s | %s |\n' "$t" "$(size "$ATLAS/tiles/$t.mvt")" "$(size "$MARTIN_URL/events/$t")"
done
