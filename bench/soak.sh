#!/usr/bin/env bash
# Soak (issue 11): N real-width events (default 1M) served for SECONDS (default 600) under a
# bounded mixed load on 127.0.0.1 (bench/soak.py: cached tiles ~1,000/s, near 20/s, OGC
# pages 10/s, stats 2/s, writes 10/s), RSS sampled every 10 s. Then the consistency check
# (events per year served = files + store), a restart on the same store, and the check again.
# Fails on any error, mismatch, or RSS growing more than 10% from the end of the first
# minute to the end.
#   bench/soak.sh [N_EVENTS] [SECONDS]
source "$(dirname "$0")/common.sh"
N=${1:-1000000}; SECONDS_=${2:-600}
DATA=$(bench_data "$N" 7)
KEY=soak-key
STORE=$TMP/soak.gpkg
SAHEL_ATLAS_WRITE_KEYS=$KEY start soak --events "$DATA" --store "$STORE"
sleep 2
cache_mb() { curl -s "$BASE/metrics" | awk '/^sahel_tile_cache_bytes/ {printf "%d", $2 / 1048576}'; }
( while kill -0 "$PID" 2>/dev/null; do echo "$(date +%s) $(rss_mb "$PID") $(cache_mb)"; sleep 10; done ) >"$TMP/rss.txt" &
SAMPLER=$!
echo "== $SECONDS_ s of mixed load on $N events from $DATA"
status=0
python3 bench/soak.py "$BASE" "$KEY" "$SECONDS_" "$STORE" "$DATA" geodata/events.csv || status=1
kill "$SAMPLER"
echo "== RSS (MB) every 10 s, and the tile cache's share"
awk '{printf "%s (%s) ", $2, $3}' "$TMP/rss.txt"; echo
awk -v first=7 'NR<=first {a=$2} {z=$2; if ($2>m) m=$2} END {
  g = (z - a) * 100 / a
  printf "after the first minute: %d MB; at the end: %d MB (%+.1f%%); highest: %d MB\n", a, z, g, m
  exit (g > 10) }' "$TMP/rss.txt" || { echo "RSS grew more than 10%"; status=1; }
echo "== restart on the same store"
kill "$PID"; wait "$PID" 2>/dev/null || true
SAHEL_ATLAS_WRITE_KEYS=$KEY start soak2 --events "$DATA" --store "$STORE"
python3 bench/soak.py "$BASE" "$KEY" 0 "$STORE" "$DATA" geodata/events.csv | tail -2 || status=1
exit $status
