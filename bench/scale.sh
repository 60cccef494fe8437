#!/usr/bin/env bash
# How cost grows with the number of events: for each size, synthetic events in ACLED's full
# 31-column layout (bench_data), one server after another on 127.0.0.1:
#   - first start (parse and index) to serving, its peak RSS, and RSS once serving;
#   - restart with unchanged inputs (the saved base), and its RSS;
#   - wrk -t2 -c32: one hot tile, the 200 varied tiles z5-z12 with the cache warm and with it
#     off, /api/events?near=Mopti&radius_km=50&limit=100; the largest of the 200 tiles.
# Writes bench/results/scale.csv and bench/results/scale.png (matplotlib, installed from PyPI
# into target/plot-venv on first use). Every request is logged, as deployed.
#
#   bench/scale.sh [SIZES...]        default: 100000 1000000 3000000 10000000; DUR=5s
# The 10M file is 5.6 GB and its saved base 3.5 GB; the 10M server peaks near 6.5 GB of RAM.
source "$(dirname "$0")/common.sh"
SIZES=("${@:-100000 1000000 3000000 10000000}")
read -r -a SIZES <<<"${SIZES[*]}"
DUR=${DUR:-5s}
OUT=bench/results
mkdir -p "$OUT"
CSV=$OUT/scale.csv
export RUST_LOG=${RUST_LOG:-info}
python3 bench/tiles.py '/tiles/{z}/{x}/{y}.mvt' >"$TMP/paths.txt"
NEAR="/api/events?near=Mopti&radius_km=50&limit=100"

rps() { # rps URL [LUA]
  if [ -n "${2:-}" ]; then
    PATHS="$TMP/paths.txt" wrk -t2 -c32 -d"$DUR" -s "$2" "$1"
  else
    wrk -t2 -c32 -d"$DUR" "$1"
  fi | awk '/Requests\/sec/ {printf "%d", $2}'
}
hwm_mb() { awk '/VmHWM/ {printf "%d", $2/1024}' /proc/"$1"/status; }
# serve NAME STORE ARGS...: a server; sets BASE, PID and SECS (to serving).
serve() {
  local name=$1 store=$2; shift 2
  local t0; t0=$(date +%s.%N)
  start "$name" --data geodata --events "$DATA" --no-shipped-events --store "$store" "$@"
  SECS=$(printf '%.2f' "$(echo "$(date +%s.%N) - $t0" | bc)")
}
wait_for() { until curl -s "$BASE/healthz" | grep -q "$1"; do sleep 0.2; done; }
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }

echo "events,file_mb,first_start_s,peak_rss_mb,serving_rss_mb,restart_s,restart_rss_mb,hot_tile_rps,warm_tiles_rps,cold_tiles_rps,near_rps,largest_tile_kb" >"$CSV"
for N in "${SIZES[@]}"; do
  DATA=$(bench_data "$N" 7)
  store=$TMP/scale-$N.gpkg
  serve "first-$N" "$store"
  first=$SECS
  wait_for '"summaries_ready":true'
  wait_for '"last_save":{"ok":true'
  peak=$(hwm_mb "$PID") serving=$(rss_mb "$PID")
  stop
  serve "again-$N" "$store"
  again=$SECS
  grep -q '"from":"saved"' <(curl -s "$BASE/healthz") || { echo "restart did not read the saved base" >&2; exit 1; }
  again_rss=$(rss_mb "$PID")
  wait_for '"summaries_ready":true'
  largest=$(while read -r p; do curl -s -o /dev/null -w '%{size_download}\n' "$BASE$p"; done <"$TMP/paths.txt" | sort -n | tail -1)
  hot=$(rps "$BASE/tiles/6/31/29.mvt")
  warm=$(rps "$BASE" bench/wrk_paths.lua)
  near=$(rps "$BASE$NEAR")
  stop
  serve "cold-$N" "$store" --tile-cache-mb 0
  wait_for '"summaries_ready":true'
  cold=$(rps "$BASE" bench/wrk_paths.lua)
  stop
  mb=$(( $(stat -c %s "$DATA") >> 20 ))
  row="$N,$mb,$first,$peak,$serving,$again,$again_rss,$hot,$warm,$cold,$near,$(( largest / 1024 ))"
  echo "$row" | tee -a "$CSV" >&2
  rm -f "$store" "$store".*
done
column -s, -t "$CSV"

VENV=target/plot-venv
[ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import matplotlib' 2>/dev/null || {
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q --disable-pip-version-check 'matplotlib==3.10.*'
}
"$VENV/bin/python" bench/plot_scale.py "$CSV" "$OUT/scale.png"
echo "wrote $CSV and $OUT/scale.png"
