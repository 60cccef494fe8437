#!/usr/bin/env bash
# Tile archive export at scale, with N real-width events (default 1M, the 31-column file):
# `export tiles` z0-MAXZOOM over the default box as PMTiles and as MBTiles (tiles/s, size),
# against fetching the same tile addresses from the live server with its tile cache off
# (wrk -t2 -c32 for DUR over every address, cycling), the way a tile seeder would.
# tippecanoe is not in Debian's packages and its source is not reachable from here.
#   bench/export.sh [N]      MAXZOOM=12 DUR=30s
source "$(dirname "$0")/common.sh"
N=${1:-1000000}; MAXZOOM=${MAXZOOM:-12}; DUR=${DUR:-30s}
FILE=$(bench_data "$N" 7)
echo "events: $FILE ($(du -h "$FILE" | cut -f1)), z0-$MAXZOOM, $(nproc) cores"
for format in pmtiles mbtiles; do
  /usr/bin/time -f "  peak RSS %M KB" "$BIN" export tiles --format "$format" --out "$TMP/mali.$format" \
    --maxzoom "$MAXZOOM" --data geodata --events "$FILE" --no-shipped-events 2>"$TMP/export.err" \
    | sed "s|$TMP/||"
  grep "peak RSS" "$TMP/export.err"
done
python3 - "$MAXZOOM" >"$TMP/paths.txt" <<'PY'
import math, sys
w, s, e, n = -12.3, 10.1, 4.3, 25.0
def tile(lon, lat, z):
    k = 1 << z
    return int((lon + 180) / 360 * k), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * k)
for z in range(int(sys.argv[1]) + 1):
    (x0, y0), (x1, y1) = tile(w, n, z), tile(e, s, z)
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            print(f"/tiles/{z}/{x}/{y}.mvt")
PY
addresses=$(wc -l <"$TMP/paths.txt")
start live --data geodata --events "$FILE" --no-shipped-events --tile-cache-mb 0 --store "$TMP/live.gpkg"
sleep 5 # the cluster pyramid is summed in the background after start-up
rps=$(PATHS="$TMP/paths.txt" wrk -t2 -c32 -d"$DUR" -s bench/wrk_paths.lua "$BASE/" | awk '/Requests\/sec/ {print $2}')
printf 'live server, cache off: %s tiles/s over the %d addresses; fetching them all would take %.0f s\n' \
  "$rps" "$addresses" "$(echo "$addresses / $rps" | bc -l)"
