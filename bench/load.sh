#!/usr/bin/env bash
# Load test on 127.0.0.1 with wrk, against Sahel Atlas serving N real-width (31-column)
# synthetic events:
#   - one hot tile, 200 varied tiles z5-z12 (cache warm, and a second server with the cache
#     off), /api/events?near=Mopti&radius_km=50&limit=100 with and without a filter, and
#     /healthz (the HTTP path's own ceiling);
#   - prints a Markdown table (req/s, p50, p99), the servers' peak RSS and start-up time.
# The servers log every request (RUST_LOG=info, the default, to a file), as deployed.
#
#   bench/load.sh [N_EVENTS]          default 1000000; DUR=10s CONNS=32 THREADS=2 to change
source "$(dirname "$0")/common.sh"
N=${1:-1000000}
DUR=${DUR:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
DATA=$(bench_data "$N" 7)
echo "events: $DATA ($(du -h "$DATA" | cut -f1)), $(nproc) cores" >&2

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

export RUST_LOG=${RUST_LOG:-info}
start warm --data geodata --events "$DATA" --no-shipped-events --store "$TMP/warm.gpkg"
WARM=$BASE WARM_PID=$PID
start cold --data geodata --events "$DATA" --no-shipped-events --store "$TMP/cold.gpkg" --tile-cache-mb 0
COLD=$BASE COLD_PID=$PID
until curl -s "$WARM/healthz" | grep -q '"summaries_ready":true'; do sleep 0.1; done
until curl -s "$COLD/healthz" | grep -q '"summaries_ready":true'; do sleep 0.1; done

# Warm the cache with every tile of the list, and note their sizes.
sizes=$(while read -r p; do curl -s -o /dev/null -w '%{size_download}\n' "$WARM$p"; done <"$TMP/paths.txt")
echo "$sizes" | awk '{s+=$1; if ($1>m) m=$1} END {printf "200 varied tiles: %d bytes in all, mean %d, largest %d\n", s, s/NR, m}' >&2
curl -s -o /dev/null "$WARM/tiles/6/31/29.mvt"
NEAR="/api/events?near=Mopti&radius_km=50&limit=100"
for q in "" "&from=2018" "&type=Battles"; do
  printf '%s%s: numberMatched %s\n' "$NEAR" "$q" \
    "$(curl -s "$WARM$NEAR$q" | python3 -c 'import json,sys; print(json.load(sys.stdin)["numberMatched"])')" >&2
done

echo
echo "$N synthetic 31-column events ($DATA); wrk -t$THREADS -c$CONNS -d$DUR on 127.0.0.1; RUST_LOG=$RUST_LOG"
echo
echo '| scenario | req/s | p50 | p99 | non-2xx |'
echo '|---|---|---|---|---|'
measure "/healthz (the HTTP path alone)" "$WARM/healthz"
measure "hot tile 6/31/29 (Mopti), cache warm" "$WARM/tiles/6/31/29.mvt"
measure "200 varied tiles z5-z12, cache warm" "$WARM" bench/wrk_paths.lua
measure "200 varied tiles z5-z12, cache off" "$COLD" bench/wrk_paths.lua
measure "$NEAR" "$WARM$NEAR"
measure "$NEAR&from=2018" "$WARM$NEAR&from=2018"
measure "$NEAR&type=Battles" "$WARM$NEAR&type=Battles"
echo
for p in "$WARM_PID" "$COLD_PID"; do
  awk -v pid="$p" '/VmHWM/ {printf "peak RSS of server %s: %d MB\n", pid, $2/1024}' "/proc/$p/status"
done
