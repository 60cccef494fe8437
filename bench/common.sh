# Shared by the bench scripts (sourced): the release build, the data files and servers.
#   BIN (the release build, or the binary BIN names: to compare two builds back to back),
#   bench_data N SEED (prints the path of the 31-column file, generating it once),
#   start NAME ARGS... (a server on a free loopback port; sets BASE and PID), rss_mb PID.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v wrk >/dev/null || { sudo -n true 2>/dev/null && SUDO=sudo || SUDO=; $SUDO apt-get install -y -q wrk; }
if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -q
  BIN=./target/release/sahel-atlas
fi
mkdir -p target/bench-data
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT

# bench_data N SEED: synthetic events in ACLED's full 31-column layout, as users load it.
bench_data() {
  local f=target/bench-data/acled31_$1_seed$2.csv
  [ -f "$f" ] || "$BIN" gen-events --n "$1" --seed "$2" --out "$f" >/dev/null
  echo "$f"
}

start() {
  local name=$1; shift
  local t0; t0=$(date +%s.%N)
  RUST_LOG=${RUST_LOG:-warn} "$BIN" serve --addr 127.0.0.1:0 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PID=$!; PIDS+=("$PID")
  for _ in $(seq 1 1200); do grep -q '^listening on ' "$TMP/$name.out" && break; sleep 0.05; done
  BASE=$(sed -n 's/^listening on //p' "$TMP/$name.out")
  [ -n "$BASE" ] || { cat "$TMP/$name.err"; exit 1; }
  printf '%s: ready in %.1f s at %s\n' "$name" "$(echo "$(date +%s.%N) - $t0" | bc)" "$BASE" >&2
}

rss_mb() { echo $(( $(awk '/VmRSS/ {print $2}' /proc/"$1"/status) / 1024 )); }

# postgis_start: a new PostgreSQL 15 + PostGIS cluster in $TMP on a free loopback port,
# with database sahel (installs Debian's postgresql-15-postgis-3 when missing); sets
# PGURL and PSQL. Stopped by the EXIT trap.
postgis_start() {
  local as_root=(); [ "$(id -u)" = 0 ] || as_root=(sudo)
  [ -f /usr/share/postgresql/15/extension/postgis.control ] \
    || { "${as_root[@]}" apt-get update -q; "${as_root[@]}" apt-get install -y -q postgresql-15-postgis-3; }
  local pg=/usr/lib/postgresql/15/bin owner=()
  [ "$(id -u)" = 0 ] && owner=(runuser -u postgres --)
  PGDIR=$(mktemp -d /tmp/sahel-bench-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres "$PGDIR"
  PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "${owner[@]}" "$pg/initdb" -A trust -U postgres -D "$PGDIR/data" >/dev/null
  "${owner[@]}" "$pg/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w start \
    -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1" >/dev/null
  PSQL=(psql -h 127.0.0.1 -p "$PGPORT" -U postgres -X -A -t -v ON_ERROR_STOP=1)
  "${PSQL[@]}" -d postgres -c 'CREATE DATABASE sahel' >/dev/null
  PGURL=postgres://postgres@127.0.0.1:$PGPORT/sahel
  PG_STOP=("${owner[@]}" "$pg/pg_ctl" -D "$PGDIR/data" -m immediate stop)
  trap 'cleanup; "${PG_STOP[@]}" >/dev/null 2>&1 || true; rm -rf "$PGDIR"' EXIT
}
