#!/usr/bin/env bash
# Live ingest under load, on 127.0.0.1, with N synthetic events loaded (default 1M):
#   1. one-event POST latency (p50/p99 of 50, each including the fsync) while wrk reads
#      the 200 varied tiles;
#   2. a 10,000-event CSV batch in one POST;
#   3. tile read throughput alone, then while a client keeps posting events (one at a time
#      over a keep-alive connection, bench/post_loop.py);
#   4. RSS after 100,000 ingested events (10 batches, on a fresh server without reads, so
#      that no tile cache counts) against a server loading the same events from files.
#   bench/ingest.sh [N_EVENTS]      DUR=10s CONNS=32 THREADS=2 to change wrk
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
DUR=${DUR:-10s}; CONNS=${CONNS:-32}; THREADS=${THREADS:-2}
command -v wrk >/dev/null || { sudo -n true 2>/dev/null && SUDO=sudo || SUDO=; $SUDO apt-get install -y -q wrk; }
cargo build --release --locked -q
BIN=./target/release/sahel-atlas
mkdir -p target/bench-data
DATA=target/bench-data/acled31_${N}_seed7.csv  # ACLED's 31 columns, as bench/common.sh
[ -f "$DATA" ] || "$BIN" gen-events --n "$N" --seed 7 --out "$DATA" >/dev/null
for b in $(seq 1 10); do
  f=target/bench-data/acled31_batch_10000_seed$((100 + b)).csv
  [ -f "$f" ] || "$BIN" gen-events --n 10000 --seed $((100 + b)) --out "$f" >/dev/null
done
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT
KEY=bench-key

start() { # NAME ARGS...: sets BASE and PID
  local name=$1; shift
  SAHEL_ATLAS_WRITE_KEYS=$KEY RUST_LOG=warn "$BIN" serve --addr 127.0.0.1:0 --store "$TMP/$name.gpkg" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PID=$!; PIDS+=("$PID")
  for _ in $(seq 1 1200); do grep -q '^listening on ' "$TMP/$name.out" && break; sleep 0.05; done
  BASE=$(sed -n 's/^listening on //p' "$TMP/$name.out")
  [ -n "$BASE" ] || { cat "$TMP/$name.err"; exit 1; }
  sleep 2 # the cluster pyramid
}
rss_mb() { echo $(( $(awk '/VmRSS/ {print $2}' /proc/"$1"/status) / 1024 )); }
post_one() { # ID -> seconds
  curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $KEY" -H 'Content-Type: application/geo+json' \
    --data-binary "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[-4.1,14.4]},\"properties\":{\"event_id_cnty\":\"$1\",\"event_date\":\"2020-06-01\",\"event_type\":\"Battles\",\"fatalities\":1}}" \
    "$BASE/api/events"
}
wrk_rps() { PATHS="$TMP/paths.txt" wrk -t"$THREADS" -c"$CONNS" -d"$DUR" -s bench/wrk_paths.lua "$BASE/" | awk '/Requests\/sec/ {print $2}'; }
python3 bench/tiles.py '/tiles/{z}/{x}/{y}.mvt' >"$TMP/paths.txt"

start live --events "$DATA"
echo "$N synthetic events (seed 7, $(basename "$DATA")) + the shipped ones; wrk -t$THREADS -c$CONNS -d$DUR"
echo
idle_rps=$(wrk_rps)
python3 bench/post_loop.py "$BASE" "$KEY" >"$TMP/posted.txt" & WRITER=$!; PIDS+=("$WRITER")
busy_rps=$(wrk_rps)
kill "$WRITER"; wait "$WRITER" || true
( PATHS="$TMP/paths.txt" wrk -t"$THREADS" -c"$CONNS" -d120s -s bench/wrk_paths.lua "$BASE/" >/dev/null ) & READERS=$!; PIDS+=("$READERS")
for i in $(seq 1 50); do post_one "ONE-$i"; done | sort -n >"$TMP/one.txt"
kill "$READERS" 2>/dev/null || true
p50=$(awk '{a[NR]=$1} END {print a[int(NR*0.5)]}' "$TMP/one.txt"); p99=$(awk '{a[NR]=$1} END {print a[int(NR*0.99)]}' "$TMP/one.txt")
batch=$(curl -s -o "$TMP/batch.json" -w '%{time_total}' -H "Authorization: Bearer $KEY" -H 'Content-Type: text/csv' \
  --data-binary @target/bench-data/acled31_batch_10000_seed101.csv "$BASE/api/events")
kill "$PID"
start ingest --events "$DATA"
for b in $(seq 1 10); do
  curl -s -o /dev/null -H "Authorization: Bearer $KEY" -H 'Content-Type: text/csv' \
    --data-binary @target/bench-data/acled31_batch_10000_seed$((100 + b)).csv "$BASE/api/events"
done
sleep 8 # the last merge and the memory it frees
live_rss=$(rss_mb "$PID")
kill "$PID"
files=(); for b in $(seq 1 10); do files+=(--events target/bench-data/acled31_batch_10000_seed$((100 + b)).csv); done
start files --events "$DATA" "${files[@]}"
file_rss=$(rss_mb "$PID")

echo "| measure | value |"
echo "|---|---|"
echo "| one-event POST while wrk reads tiles, p50 / p99 (50 writes) | ${p50} s / ${p99} s |"
echo "| 10,000-event CSV batch, one POST | ${batch} s ($(head -c 60 "$TMP/batch.json")…) |"
echo "| varied tiles req/s, no writes | $idle_rps |"
echo "| varied tiles req/s, a client posting continuously | $busy_rps ($(cat "$TMP/posted.txt") writes acknowledged meanwhile) |"
echo "| RSS after 100,000 ingested events | $live_rss MB |"
echo "| RSS loading the same events from files | $file_rss MB |"
