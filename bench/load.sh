#!/usr/bin/env bash
# Load test on 127.0.0.1 with wrk, against Sahel Atlas serving N synthetic events:
#   - one hot tile, 200 varied tiles z5-z12 (cache warm, and a second server with the cache
#     off), and /api/events?near=Mopti&radius_km=50&limit=100;
#   - prints a Markdown table (req/s, p50, p99), the servers' peak RSS and start-up time.
#
#   bench/load.sh [N_EVENTS]          default 1000000; DUR=10s CONNS=32 THREADS=2 to change
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-1000000}
DUR=${DUR:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
command -v wrk >/dev/null || { sudo -n true 2>/dev/null && SUDO=sudo || SUDO=; $SUDO apt-get install -y -q wrk; }
cargo build --release --locked -q
BIN=./target/release/sahel-atlas
DATA=target/bench-data/events_${N}_seed7.csv
mkdir -p target/bench-data
[ -f "$DATA" ] || "$BIN" gen-events --n "$N" --seed 7 --out "$DATA" >/dev/null

TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT

# start NAME ARGS...: starts a server on a free port; sets $BASE and $PID.
start() {
  local name=$1; shift
  local t0; t0=$(date +%s.%N)
  RUST_LOG=warn "$BIN" serve --addr 127.0.0.1:0 --events "$DATA" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 1 600); do
    if grep -q '^listening on ' "$TMP/$name.out"; then break; fi
    sleep 0.05
  done
  BASE=$(sed -n 's/^listening on //p' "$TMP/$name.out")
  [ -n "$BASE" ] || { cat "$TMP/$name.err"; exit 1; }
  printf '%s: ready in %.1f s at %s\n' "$name" "$(echo "$(date +%s.%N) - $t0" | bc)" "$BASE" >&2
}

# measure LABEL URL [LUA]: one wrk run, one table row.
measure() {
  local label=$1 url=$2 lua=${3:-}
  local out
  if [ -n "$lua" ]; then
    out=$(PATHS="$TMP/paths.txt" wrk --latency -t"$THREADS" -c"$CONNS" -d"$DUR" -s "$lua" "$url")
  else
    out=$(wrk --latency -t"$THREADS" -c"$CONNS" -d"$DUR" "$url")
  fi
  local rps p50 p99 errors
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  errors=$(echo "$out" | awk '/Non-2xx/ {print $4}')
  printf '| %s | %s | %s | %s | %s |\n' "$label" "$rps" "$p50" "$p99" "${errors:-0}"
}

python3 bench/tiles.py '/tiles/{z}/{x}/{y}.mvt' >"$TMP/paths.txt"

start warm
WARM=$BASE WARM_PID=$PID
start cold --tile-cache-mb 0
COLD=$BASE COLD_PID=$PID

# Warm the cache with every tile of the list, and note their sizes.
sizes=$(while read -r p; do curl -s -o /dev/null -w '%{size_download}\n' "$WARM$p"; done <"$TMP/paths.txt")
echo "$sizes" | awk '{s+=$1; if ($1>m) m=$1} END {printf "200 varied tiles: %d bytes in all, mean %d, largest %d\n", s, s/NR, m}' >&2
curl -s -o /dev/null "$WARM/tiles/6/31/29.mvt"

echo
echo "$N synthetic events (seed 7) + the shipped ones; wrk -t$THREADS -c$CONNS -d$DUR on 127.0.0.1"
echo
echo '| scenario | req/s | p50 | p99 | non-2xx |'
echo '|---|---|---|---|---|'
measure "hot tile 6/31/29 (Mopti), cache warm" "$WARM/tiles/6/31/29.mvt"
measure "200 varied tiles z5-z12, cache warm" "$WARM" bench/wrk_paths.lua
measure "200 varied tiles z5-z12, cache off" "$COLD" bench/wrk_paths.lua
measure "/api/events?near=Mopti&radius_km=50&limit=100" "$WARM/api/events?near=Mopti&radius_km=50&limit=100"
echo
for p in "$WARM_PID" "$COLD_PID"; do
  awk -v pid="$p" '/VmHWM/ {printf "peak RSS of server %s: %d MB\n", pid, $2/1024}' "/proc/$p/status"
done
