#!/usr/bin/env bash
# Builds the Dockerfile into an image and runs it: the container must answer /healthz and
# a tile. With a Docker engine, `docker build`; without one (as on the development and CI
# machines), buildah with the vfs storage driver and chroot isolation, from base images
# this script makes with debootstrap, since image registries are not reachable here:
#   localhost/sahel-bookworm   Debian bookworm (minbase)          -> RUNTIME_IMAGE
#   localhost/sahel-rust       the same plus this machine's Rust  -> RUST_IMAGE
# Both are kept in buildah's storage and reused by later runs (REBASE=1 remakes them).
#   scripts/image.sh            build, then run and check
#   TAG=name:tag scripts/image.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TAG=${TAG:-localhost/sahel-atlas:latest}
WORK=$PWD/target/image
# The Debian mirror this machine's apt uses for bookworm (deb822 .sources or a .list);
# MIRROR= overrides it.
apt_mirror() {
  local m
  m=$(awk '/^$/ {u=""} /^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)/ && u != "" {print u; exit}' \
        /etc/apt/sources.list.d/*.sources 2>/dev/null)
  [ -n "$m" ] || m=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null)
  echo "$m"
}
MIRROR=${MIRROR:-$(apt_mirror)}
[ -n "$MIRROR" ] || { echo "image.sh: no bookworm mirror in the apt configuration; set MIRROR=" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
say() { echo "image.sh: $*" >&2; }
started=$(date +%s)

# Waits for the service on $1 (host:port) to answer /healthz and a tile, or fails.
check() {
  for _ in $(seq 1 120); do
    curl -fsS "http://$1/healthz" >/dev/null 2>&1 && break
    sleep 1
  done
  curl -fsS "http://$1/healthz" | head -c 300; echo
  local tile; tile=$(curl -fsS -o /dev/null -w '%{http_code} %{size_download} %{content_type}' "http://$1/tiles/5/15/14.mvt")
  say "GET /tiles/5/15/14.mvt -> $tile"
  [[ $tile == "200 "* ]] || { say "the tile did not answer 200"; return 1; }
  say "the image answers /healthz and tiles ($(( $(date +%s) - started )) s in all)"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  say "Docker engine found: docker build"
  docker build -t "$TAG" .
  port=$(free_port)
  id=$(docker run -d --rm -p "127.0.0.1:$port:8080" "$TAG")
  trap 'docker stop "$id" >/dev/null' EXIT
  check "127.0.0.1:$port"
  exit
fi

missing=()
command -v buildah >/dev/null || missing+=(buildah)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -q && as_root apt-get install -y -q "${missing[@]}"
fi
B=(as_root buildah --storage-driver vfs)
have() { "${B[@]}" inspect --type image "$1" >/dev/null 2>&1; }

if [ "${REBASE:-0}" = 1 ] || ! have localhost/sahel-bookworm; then
  say "making localhost/sahel-bookworm with debootstrap from $MIRROR"
  rm -rf "$WORK/rootfs" && mkdir -p "$WORK"
  as_root debootstrap --variant=minbase bookworm "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log"
  ctr=$("${B[@]}" from scratch)
  mnt=$("${B[@]}" mount "$ctr")
  as_root cp -a "$WORK/rootfs/." "$mnt/"
  "${B[@]}" umount "$ctr" >/dev/null
  "${B[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd /bin/bash "$ctr"
  "${B[@]}" commit --rm "$ctr" localhost/sahel-bookworm >/dev/null
  as_root rm -rf "$WORK/rootfs"
fi

if [ "${REBASE:-0}" = 1 ] || ! have localhost/sahel-rust; then
  sysroot=$(rustc --print sysroot)
  say "making localhost/sahel-rust: the base plus $(rustc --version) from $sysroot"
  ctr=$("${B[@]}" from localhost/sahel-bookworm)
  mnt=$("${B[@]}" mount "$ctr")
  as_root mkdir -p "$mnt/usr/local/rust" "$mnt/usr/local/cargo"
  # The compiler and cargo, without the documentation.
  as_root cp -a "$sysroot/bin" "$sysroot/lib" "$sysroot/libexec" "$mnt/usr/local/rust/"
  # This machine's own certificate authorities (a TLS-inspecting proxy may stand between
  # it and the registries): the Dockerfile's ca-certificates install takes them in, so
  # cargo and npm inside the build trust what the host trusts.
  as_root mkdir -p "$mnt/usr/local/share/ca-certificates"
  as_root cp -a /usr/local/share/ca-certificates/. "$mnt/usr/local/share/ca-certificates/" 2>/dev/null || true
  "${B[@]}" umount "$ctr" >/dev/null
  "${B[@]}" config --env CARGO_HOME=/usr/local/cargo \
    --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    --env PATH=/usr/local/rust/bin:/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    "$ctr"
  "${B[@]}" commit --rm "$ctr" localhost/sahel-rust >/dev/null
fi

say "building $TAG from the Dockerfile (buildah bud, chroot isolation)"
build_started=$(date +%s)
"${B[@]}" bud --isolation chroot --format docker --layers=false \
  --build-arg RUST_IMAGE=localhost/sahel-rust \
  --build-arg RUNTIME_IMAGE=localhost/sahel-bookworm \
  -t "$TAG" .
say "built in $(( $(date +%s) - build_started )) s; $("${B[@]}" images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$TAG")"

# Runs the image's command as its user, on the host network.
port=$(free_port)
ctr=$("${B[@]}" from "$TAG")
cleanup() {
  # buildah run does not pass signals on: stop the server itself.
  as_root pkill -f "sahel-atlas serve --addr 127.0.0.1:$port" 2>/dev/null || true
  wait 2>/dev/null || true
  "${B[@]}" rm "$ctr" >/dev/null 2>&1 || true
}
trap cleanup EXIT
"${B[@]}" run --isolation chroot --network host --user atlas "$ctr" -- \
  sahel-atlas serve --addr "127.0.0.1:$port" --data /app/geodata --web /app/web --store /data/atlas.gpkg \
  >"$WORK/run.log" 2>&1 &
run_pid=$!
check "127.0.0.1:$port"
grep -aq 'store opened.*/data/atlas.gpkg' "$WORK/run.log" \
  || { say "the store was not opened in /data"; exit 1; }
say "the store is in /data (the image's volume); the log is in $WORK/run.log"
