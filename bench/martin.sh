#!/usr/bin/env bash
# Side by side on 127.0.0.1: Sahel Atlas and Martin 1.14 (the Rust tile server) serving the same
# N synthetic events in ACLED's full 31-column layout (bench_data), Martin from PostGIS.
#   - tiles: the same 200 tiles z5-z12 (bench/tiles.py), cache warm and cache off, wrk -t2 -c32;
#   - the near query: /api/events?near=Mopti&radius_km=50&limit=100 (the count and the 100
#     nearest with their geodesic distances) against the same answer from PostGIS,
#     ST_DWithin and ST_Distance on geography with a GiST index, run by pgbench -c32 -j2;
#   - our count within 50 km of Mopti against PostGIS's (they must agree).
# Prints Markdown tables with the ratios.
#
#   bench/martin.sh [N_EVENTS]     default 1000000; DUR=10s CONNS=32 THREADS=2
#
# Installs what it needs: Debian's postgresql-15-postgis-3 and wrk, and Martin built from
# crates.io into target/bench-tools (about 10 minutes on 2 cores, once).
source "$(dirname "$0")/common.sh"
N=${1:-1000000}
DUR=${DUR:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
MARTIN=target/bench-tools/bin/martin
[ -x "$MARTIN" ] || cargo install martin@1.14.0 --locked --no-default-features --features postgres --root target/bench-tools
DATA=$(bench_data "$N" 7)
echo "events: $DATA ($(du -h "$DATA" | cut -f1)), $(nproc) cores" >&2

postgis_start
cp "$DATA" "$TMP/synthetic.csv" && cp geodata/events.csv "$TMP/shipped.csv" && chmod 755 "$TMP" && chmod 644 "$TMP"/*.csv
# A table of text columns named by a CSV file's header.
text_table() { echo "CREATE TABLE $1 ($(head -1 "$2" | sed 's/,/ text, /g') text);"; }
# Martin publishes every column of a table in its tiles: its table `events` has the
# attributes our tiles carry. The near query reads `events_full`, every field our answer has,
# with a geography column (which Martin does not publish).
PICK="event_id_cnty AS id, event_date, event_type, sub_event_type, actor1, actor2, admin1, admin2, location,
  fatalities::int AS fatalities, source, notes, longitude::float8 AS lon, latitude::float8 AS lat"
t0=$(date +%s)
"${PSQL[@]}" -d sahel -q <<SQL
CREATE EXTENSION postgis;
$(text_table raw "$TMP/synthetic.csv")
\copy raw FROM '$TMP/synthetic.csv' CSV HEADER
$(text_table raw_shipped "$TMP/shipped.csv")
\copy raw_shipped FROM '$TMP/shipped.csv' CSV HEADER
CREATE TABLE events_full AS SELECT $PICK FROM raw UNION ALL SELECT $PICK FROM raw_shipped;
DROP TABLE raw_shipped;
DROP TABLE raw;
ALTER TABLE events_full ADD COLUMN geog geography(Point, 4326);
UPDATE events_full SET geog = ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography;
CREATE INDEX ON events_full USING gist (geog);
CREATE TABLE events AS
  SELECT id, event_date, event_type, sub_event_type, actor1, fatalities, location,
         ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geometry(Point, 4326) AS geom
  FROM events_full;
CREATE INDEX ON events USING gist (geom);
VACUUM ANALYZE events_full;
VACUUM ANALYZE events;
SQL
echo "PostGIS: $("${PSQL[@]}" -d sahel -c 'SELECT count(*) FROM events') events loaded and indexed in $(( $(date +%s) - t0 )) s" >&2

# The near answer, as PostGIS gives it: the count, and the 100 nearest as GeoJSON with distances.
MOPTI="ST_SetSRID(ST_MakePoint(-4.18296, 14.4843), 4326)::geography"
cat >"$TMP/near.sql" <<SQL
SELECT (SELECT count(*) FROM events_full WHERE ST_DWithin(geog, $MOPTI, 50000)),
       (SELECT json_agg(json_build_object('type', 'Feature', 'geometry', ST_AsGeoJSON(geog)::json,
          'properties', json_build_object('id', id, 'event_date', event_date, 'event_type', event_type,
            'sub_event_type', sub_event_type, 'actor1', actor1, 'actor2', actor2, 'admin1', admin1,
            'admin2', admin2, 'location', location, 'fatalities', fatalities, 'source', source,
            'notes', notes, 'distance_km', d / 1000)))
        FROM (SELECT *, ST_Distance(geog, $MOPTI) AS d FROM events_full
              WHERE ST_DWithin(geog, $MOPTI, 50000) ORDER BY d LIMIT 100) nearest);
SQL
pg_count=$("${PSQL[@]}" -d sahel -f "$TMP/near.sql" | cut -d'|' -f1)

# Our servers read the same files: the shipped events plus the synthetic ones.
export RUST_LOG=${RUST_LOG:-info}
start atlas --data geodata --events "$DATA" --store "$TMP/atlas.gpkg"
ATLAS=$BASE
start atlas_cold --data geodata --events "$DATA" --store "$TMP/cold.gpkg" --tile-cache-mb 0
ATLAS_COLD=$BASE
NEAR="/api/events?near=Mopti&radius_km=50&limit=100"
ours=$(curl -s "$ATLAS$NEAR" | python3 -c 'import json,sys; print(json.load(sys.stdin)["numberMatched"])')
echo "events within 50 km of Mopti: Sahel Atlas $ours, PostGIS ST_DWithin(geography) $pg_count" >&2
[ "$ours" = "$pg_count" ] || { echo "MISMATCH" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MP=$(free_port) MPC=$(free_port)
"$MARTIN" --listen-addresses "127.0.0.1:$MP" "$PGURL" >"$TMP/martin.log" 2>&1 &
PIDS+=($!)
"$MARTIN" --cache-size 0 --listen-addresses "127.0.0.1:$MPC" "$PGURL" >"$TMP/martin_cold.log" 2>&1 &
PIDS+=($!)
MARTIN_URL=http://127.0.0.1:$MP MARTIN_COLD=http://127.0.0.1:$MPC
for u in "$MARTIN_URL" "$MARTIN_COLD"; do
  for _ in $(seq 1 600); do curl -sf "$u/catalog" >/dev/null 2>&1 && break; sleep 0.1; done
done
curl -s "$MARTIN_URL/catalog" | grep -q '"events"' || { echo "Martin does not publish events:" >&2; cat "$TMP/martin.log" >&2; exit 1; }
until curl -s "$ATLAS/healthz" | grep -q '"summaries_ready":true'; do sleep 0.2; done
until curl -s "$ATLAS_COLD/healthz" | grep -q '"summaries_ready":true'; do sleep 0.2; done

python3 bench/tiles.py '/tiles/{z}/{x}/{y}.mvt' >"$TMP/atlas_paths.txt"
python3 bench/tiles.py '/events/{z}/{x}/{y}' >"$TMP/martin_paths.txt"
# Warm both caches (one pass over the list).
while read -r p; do curl -s -o /dev/null "$ATLAS$p"; done <"$TMP/atlas_paths.txt"
while read -r p; do curl -s -o /dev/null "$MARTIN_URL$p"; done <"$TMP/martin_paths.txt"

RESULTS=()
# Waits until PostgreSQL has no query running: when wrk stops, Martin's queued tile queries
# still run for seconds, and would take the cores from whatever is measured next.
quiet() {
  until [ "$("${PSQL[@]}" -d sahel -c "SELECT count(*) FROM pg_stat_activity
           WHERE state = 'active' AND pid <> pg_backend_pid()")" = 0 ]; do sleep 0.5; done
}
measure() { # LABEL URL [PATHS]: one table row; its req/s kept in RESULTS
  quiet
  local out
  if [ -n "${3:-}" ]; then
    out=$(PATHS="$3" wrk --latency -t"$THREADS" -c"$CONNS" -d"$DUR" -s bench/wrk_paths.lua "$2")
  else
    out=$(wrk --latency -t"$THREADS" -c"$CONNS" -d"$DUR" "$2")
  fi
  local rps; rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  RESULTS+=("$rps")
  printf '| %s | %s | %s | %s |\n' "$1" "$rps" "$(echo "$out" | awk '$1=="50%" {print $2}')" \
    "$(echo "$out" | awk '$1=="99%" {print $2}')"
}
pgbench_row() { # LABEL: the near query through pgbench, as a table row
  quiet
  local out
  out=$(/usr/lib/postgresql/15/bin/pgbench -h 127.0.0.1 -p "$PGPORT" -U postgres -n -c "$CONNS" -j "$THREADS" \
    -T "${DUR%s}" -r -f "$TMP/near.sql" sahel 2>&1)
  local tps; tps=$(echo "$out" | awk '/^tps/ {print $3}')
  RESULTS+=("$tps")
  printf '| %s | %s | %s ms (mean) | |\n' "$1" "$tps" "$(echo "$out" | awk '/latency average/ {print $4}')"
}
ratio() { python3 -c "print(f'{float($1) / float($2):.1f}x')"; }

echo
echo "$N synthetic 31-column events + 72 shipped ($DATA); wrk -t$THREADS -c$CONNS -d$DUR on 127.0.0.1, same 200 tiles z5-z12; RUST_LOG=$RUST_LOG"
echo
echo '| server, scenario | req/s | p50 | p99 |'
echo '|---|---|---|---|'
measure "Sahel Atlas, hot tile 6/31/29" "$ATLAS/tiles/6/31/29.mvt"
measure "Martin, hot tile 6/31/29" "$MARTIN_URL/events/6/31/29"
measure "Sahel Atlas, 200 varied tiles, cache warm" "$ATLAS" "$TMP/atlas_paths.txt"
measure "Martin, 200 varied tiles, cache warm" "$MARTIN_URL" "$TMP/martin_paths.txt"
measure "Sahel Atlas, 200 varied tiles, cache off" "$ATLAS_COLD" "$TMP/atlas_paths.txt"
measure "Martin, 200 varied tiles, cache off" "$MARTIN_COLD" "$TMP/martin_paths.txt"
measure "Sahel Atlas, $NEAR" "$ATLAS$NEAR"
pgbench_row "PostGIS, the same answer (ST_DWithin + ST_Distance on geography), pgbench -c$CONNS -j$THREADS"
echo
echo '| ratio, Sahel Atlas to the other | |'
echo '|---|---|'
echo "| hot tile, against Martin | $(ratio "${RESULTS[0]}" "${RESULTS[1]}") |"
echo "| varied tiles, cache warm, against Martin | $(ratio "${RESULTS[2]}" "${RESULTS[3]}") |"
echo "| varied tiles, cache off, against Martin | $(ratio "${RESULTS[4]}" "${RESULTS[5]}") |"
echo "| near query, against PostGIS | $(ratio "${RESULTS[6]}" "${RESULTS[7]}") |"
echo
size() { curl -s -o /dev/null -w '%{size_download}' "$1"; }
echo '| tile | Sahel Atlas bytes | Martin bytes |'
echo '|---|---|---|'
for t in 4/7/7 5/15/14 6/31/29 8/124/117 10/500/470 12/2000/1880; do
  printf '| %s | %s | %s |\n' "$t" "$(size "$ATLAS/tiles/$t.mvt")" "$(size "$MARTIN_URL/events/$t")"
done
