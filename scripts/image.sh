#!/usr/bin/env bash
# Builds the Dockerfile into an image and runs it: the container must answer /healthz and
# a tile. With a Docker engine, `docker build`; without one (as on the development and CI
# machines), buildah with the vfs storage driver and chroot isolation, from base images
# this script makes with debootstrap, since image registries are not reachable here:
#   localhost/sahel-bookworm   Debian bookworm (minbase)
#   localhost/sahel-rust       the same plus this machine's Rust  -> RUST_IMAGE
# (the runtime image is built from scratch: the binary, its libraries and files).
# Both are kept in buildah's storage and reused by later runs (REBASE=1 remakes them).
#   scripts/image.sh            build, then run and check
#   TAG=name:tag scripts/image.sh
#   CHECK_ONLY=1 scripts/image.sh   check the image already built, without building it
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

if [ "${CHECK_ONLY:-0}" != 1 ]; then
  say "building $TAG from the Dockerfile (buildah bud, chroot isolation)"
  build_started=$(date +%s)
  "${B[@]}" bud --isolation chroot --format docker --layers=false \
    --build-arg RUST_IMAGE=localhost/sahel-rust \
    -t "$TAG" .
  say "built in $(( $(date +%s) - build_started )) s"
fi

# Under a real engine (podman; these flags are what this kind of machine needs: crun
# refuses its hybrid cgroup layout, and the default ulimits cannot be raised here): the
# image with a read-only root and a named volume on /data must answer /healthz and a tile,
# keep a write across a container restart, report healthy through its own healthcheck,
# stop within 10 s of SIGTERM, and stay under 200 MB.
command -v podman >/dev/null && command -v runc >/dev/null \
  || { as_root apt-get update -q && as_root apt-get install -y -q podman runc; }
P=(as_root podman --storage-driver vfs --runtime runc --cgroup-manager cgroupfs)
size=$("${P[@]}" image inspect --format '{{.Size}}' "$TAG")
say "image size: $(( size / 1000000 )) MB"
[ "$size" -lt 200000000 ] || { say "the image is over 200 MB"; exit 1; }
port=$(free_port)
volume=sahel-atlas-check-$$
name=sahel-atlas-check-$$
key=image-check-key
cleanup() {
  "${P[@]}" rm -f -t 0 "$name" >/dev/null 2>&1 || true
  "${P[@]}" volume rm -f "$volume" >/dev/null 2>&1 || true
}
trap cleanup EXIT
"${P[@]}" run -d --name "$name" --read-only -v "$volume:/data" -p "127.0.0.1:$port:8080" \
  --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 -e SAHEL_ATLAS_WRITE_KEYS=$key \
  "$TAG" >/dev/null
check "127.0.0.1:$port"
event='{"type":"Feature","geometry":{"type":"Point","coordinates":[-4.18,14.48]},
  "properties":{"event_id_cnty":"IMAGE-CHECK-1","event_date":"2026-12-01",
  "event_type":"Battles","fatalities":3,"notes":"written by scripts/image.sh"}}'
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/geo+json' --data-binary "$event" "http://127.0.0.1:$port/api/events")
[ "$code" = 201 ] || { say "the write answered $code"; exit 1; }
stop_started=$(date +%s.%N)
"${P[@]}" stop -t 10 "$name" >/dev/null
stop_secs=$(echo "$(date +%s.%N) - $stop_started" | bc)
exit_code=$("${P[@]}" inspect --format '{{.State.ExitCode}}' "$name")
say "stopped by SIGTERM in ${stop_secs} s, exit code $exit_code"
[ "$exit_code" = 0 ] && [ "$(echo "$stop_secs < 10" | bc)" = 1 ] \
  || { say "no clean stop within 10 s"; exit 1; }
"${P[@]}" start "$name" >/dev/null
check "127.0.0.1:$port"
curl -fsS "http://127.0.0.1:$port/api/events/IMAGE-CHECK-1" | grep -q 'written by scripts/image.sh' \
  || { say "the write did not survive the restart"; exit 1; }
say "the write survived a container restart (the store is on the volume)"
"${P[@]}" healthcheck run "$name" >/dev/null || { say "the image's healthcheck failed"; exit 1; }
say "healthy by its own healthcheck; $(( $(date +%s) - started )) s in all"
