#!/usr/bin/env bash
# Overload, as a new user meets it (issue 11): wrk -t2 -c32 cycles through 235 mixed requests
# (bench/mixed_paths.py: 195 varied tiles and 40 expensive ones: near with and without a
# filter, OGC pages, stats by region, a base's coverage, filtered z6 tiles, place search)
# against N real-width events, for DUR (default 180s), while a light probe (2 connections,
# one request each per 10 ms) asks for the same 195 tiles, cached. Prints both wrk
# summaries, the answers by route and status from /metrics, and the server's RSS: idle
# (after warming the tile cache), sampled every 10 s, and peak.
#   bench/mixed.sh [N_EVENTS] [-- SERVE_ARGS...]      DUR=180s to change
source "$(dirname "$0")/common.sh"
N=${1:-1000000}; shift || true
[ "${1:-}" = "--" ] && shift
DUR=${DUR:-180s}
DATA=$(bench_data "$N" 7)
python3 bench/mixed_paths.py >"$TMP/mixed.txt"
python3 bench/tiles.py | head -195 >"$TMP/tiles.txt"

start mixed --events "$DATA" "$@"
sleep 2 # the cluster pyramid
while read -r p; do curl -s -o /dev/null "$BASE$p"; done <"$TMP/tiles.txt"
awk '/VmHWM/ {printf "peak RSS while loading and warming: %d MB\n", $2/1024}' /proc/"$PID"/status
echo "idle RSS after warming the 195 tiles: $(rss_mb "$PID") MB ($(ls /proc/"$PID"/task | wc -l) threads)"
echo 5 >/proc/"$PID"/clear_refs # the peak below is the peak under load

( while kill -0 "$PID" 2>/dev/null; do echo "$(date +%s) $(rss_mb "$PID") $(ls /proc/"$PID"/task | wc -l)"; sleep 10; done ) >"$TMP/rss.txt" &
PATHS="$TMP/tiles.txt" wrk --latency -t1 -c2 -d"$DUR" --timeout 2s -s bench/wrk_probe.lua "$BASE" >"$TMP/probe.txt" &
PROBE=$!
echo "== mixed load: wrk -t2 -c32 -d$DUR, $N events from $DATA"
PATHS="$TMP/mixed.txt" wrk --latency -t2 -c32 -d"$DUR" --timeout 2s -s bench/wrk_paths.lua "$BASE"
wait "$PROBE"
echo "== probe: cached tiles during the load (wrk -t1 -c2, 10 ms between requests)"
cat "$TMP/probe.txt"
echo "== answers by route and status (server side)"
curl -s "$BASE/metrics" | awk -F'[{}]' '/^sahel_http_requests_total/ {print $2, $3}' | sort
echo "== RSS (MB) and threads, every 10 s"
awk '{printf "%s MB, %s threads\n", $2, $3}' "$TMP/rss.txt" | tr '\n' ';'; echo
awk '/VmHWM/ {printf "peak RSS under load: %d MB\n", $2/1024}' /proc/"$PID"/status
