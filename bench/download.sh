#!/usr/bin/env bash
# Downloads at scale, with N real-width events (default 1M, the 31-column file): every
# event as f=csv and as f=geojson, read by curl as fast as it goes (rows/s, MB, time) and
# by a slow reader (--limit-rate), while the server's RSS is sampled every 50 ms: memory
# stays flat when the answer is streamed (only the list of matching rows is held).
#   bench/download.sh [N]      SLOW=20M (bytes/s of the slow reader)
source "$(dirname "$0")/common.sh"
N=${1:-1000000}; SLOW=${SLOW:-20M}
FILE=$(bench_data "$N" 7)
echo "events: $FILE ($(du -h "$FILE" | cut -f1)), $(nproc) cores"
start dl --data geodata --events "$FILE" --no-shipped-events --store "$TMP/dl.gpkg" \
  --max-download-rows "$((N + 100000))"
sleep 5 # the cluster pyramid is summed in the background after start-up
idle=$(rss_mb "$PID")
echo "idle RSS ${idle} MB"

# sample PID OUTFILE: the peak RSS (MB) while the caller's last job runs.
sample() {
  local peak=0 now
  while kill -0 "$1" 2>/dev/null && [ -e "$TMP/running" ]; do
    now=$(rss_mb "$PID"); [ "$now" -gt "$peak" ] && peak=$now
    sleep 0.05
  done
  echo "$peak" >"$2"
}

for f in csv geojson; do
  for reader in fast slow; do
    rate=(); [ "$reader" = slow ] && rate=(--limit-rate "$SLOW")
    touch "$TMP/running"
    sample "$PID" "$TMP/peak" &
    sampler=$!
    out=$(curl -s "${rate[@]}" -o "$TMP/out.$f" -w '%{http_code} %{size_download} %{time_total}' \
      "$BASE/api/events?f=$f")
    rm -f "$TMP/running"; wait "$sampler"
    read -r code bytes secs <<<"$out"
    rows=$(if [ "$f" = csv ]; then python3 -c "import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1], newline='', encoding='utf-8'))) - 1)" "$TMP/out.$f"; \
           else python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['features']))" "$TMP/out.$f"; fi)
    printf '%-7s %-4s reader: HTTP %s, %d rows, %.0f MB in %.1f s (%.0f rows/s); peak RSS %d MB (idle %d, +%d)\n' \
      "$f" "$reader" "$code" "$rows" "$(echo "$bytes / 1000000" | bc -l)" "$secs" \
      "$(echo "$rows / $secs" | bc -l)" "$(cat "$TMP/peak")" "$idle" "$(( $(cat "$TMP/peak") - idle ))"
    rm -f "$TMP/out.$f"
  done
done
page=$(curl -s -o /dev/null -w '%{size_download} %{time_total}' "$BASE/api/events?limit=10000")
echo "for comparison, one 10,000-feature JSON page: $page (bytes, s); peak RSS now $(rss_mb "$PID") MB"
