#!/usr/bin/env bash
# The analysis endpoints at scale, with N real-width events (default 1M, the 31-column
# file): how long the hexbin pyramid takes to sum after start-up and what it costs in RSS,
# then the time of each answer (the first call, and the median of 5; no answer is cached)
# for country-wide hexbins at every resolution, the coverage timeline and trends.
#   bench/analysis.sh [N]
source "$(dirname "$0")/common.sh"
N=${1:-1000000}
FILE=$(bench_data "$N" 7)
echo "events: $FILE ($(du -h "$FILE" | cut -f1)), $(nproc) cores"
t0=$(date +%s.%N)
start an --data geodata --events "$FILE" --no-shipped-events --store "$TMP/an.gpkg"
served=$(rss_mb "$PID")
until curl -s "$BASE/healthz" | grep -q '"summaries_ready":true'; do sleep 0.05; done
printf 'pyramids (clusters and hexbins) summed %.1f s after start; RSS %d MB when serving, %d MB with the pyramids\n' \
  "$(echo "$(date +%s.%N) - $t0" | bc)" "$served" "$(rss_mb "$PID")"

# timed PATH: HTTP code, bytes, first call and median of 5 (ms).
timed() {
  local first times code bytes
  read -r code bytes first <<<"$(curl -s -o /dev/null -w '%{http_code} %{size_download} %{time_total}' "$BASE$1")"
  times=$(for _ in 1 2 3 4 5; do curl -s -o /dev/null -w '%{time_total}\n' "$BASE$1"; done | sort -n | sed -n 3p)
  printf '%-62s HTTP %s %8.1f KB  first %7.1f ms  median %7.1f ms\n' "$1" "$code" \
    "$(echo "$bytes / 1000" | bc -l)" "$(echo "$first * 1000" | bc -l)" "$(echo "$times * 1000" | bc -l)"
}
for res in 3 4 5 6 7; do timed "/api/hexbins?res=$res"; done
timed "/api/hexbins?res=5&from=2015&to=2018"
timed "/api/hexbins?res=5&type=Battles"
timed "/api/hexbins?res=9&bbox=-4.4,14.3,-4.0,14.7"
timed "/api/coverage/timeline"
timed "/api/coverage/timeline?from=2012&operator=MINUSMA"
timed "/api/trends?unit=region&period=quarter&at=2019-Q1&baseline=8"
timed "/api/trends?unit=h3&res=5&period=year&at=2019&baseline=4&metric=fatalities"
timed "/api/trends?unit=region&period=month&at=2019-03&baseline=24"
timed "/tiles/5/15/14.mvt"
