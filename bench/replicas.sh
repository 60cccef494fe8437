#!/usr/bin/env bash
# The deployment figures, on loopback, with N real-width events (default 1M, the
# 31-column file): import into each store, start-up of a replica from PostGIS, write
# throughput per store, and replication lag between two replicas.
#   bench/replicas.sh [N]        SECS=20 CLIENTS=4 for the write throughput
source "$(dirname "$0")/common.sh"
N=${1:-1000000}; SECS=${SECS:-20}; CLIENTS=${CLIENTS:-4}
FILE=$(bench_data "$N" 7)
KEY=bench-key
export SAHEL_ATLAS_WRITE_KEYS=$KEY
postgis_start
echo "events: $FILE ($(du -h "$FILE" | cut -f1))" >&2

t0=$(date +%s.%N)
"$BIN" import --store "$PGURL" "$FILE" >"$TMP/import-pg.out" 2>/dev/null
pg_import=$(echo "$(date +%s.%N) - $t0" | bc)
t0=$(date +%s.%N)
"$BIN" import --store "$TMP/import.gpkg" "$FILE" >"$TMP/import-gpkg.out" 2>/dev/null
gpkg_import=$(echo "$(date +%s.%N) - $t0" | bc)
printf 'import of %d events: PostGIS %.1f s, GeoPackage %.1f s\n' "$N" "$pg_import" "$gpkg_import"
echo "PostGIS holds $("${PSQL[@]}" -d sahel -c 'SELECT count(*) FROM events') events"

start replica-a --data geodata --no-shipped-events --store "$PGURL"
A=$BASE; A_PID=$PID
echo "replica A: RSS $(rss_mb "$A_PID") MB"
start replica-b --data geodata --no-shipped-events --store "$PGURL"
B=$BASE
start gpkg-node --data geodata --no-shipped-events --store "$TMP/import.gpkg"
G=$BASE

echo "write throughput, $CLIENTS clients x ${SECS}s of one-event POSTs:"
echo "  GeoPackage (one node):  $(python3 bench/replicas.py throughput "$G" "$KEY" "$SECS" "$CLIENTS")"
echo "  PostGIS (replica A):    $(python3 bench/replicas.py throughput "$A" "$KEY" "$SECS" "$CLIENTS")"
echo "replication lag A<->B, 200 writes: $(python3 bench/replicas.py lag "$A" "$B" "$KEY" 200)"
a=$(curl -s "$A/api/events?limit=0" | python3 -c 'import json,sys; print(json.load(sys.stdin)["numberMatched"])')
b=$(curl -s "$B/api/events?limit=0" | python3 -c 'import json,sys; print(json.load(sys.stdin)["numberMatched"])')
echo "events served: A $a, B $b, PostGIS $("${PSQL[@]}" -d sahel -c 'SELECT count(*) FROM events')"
