#!/usr/bin/env bash
# Installs what the web map needs: MapLibre and PMTiles from npm (web/node_modules, from
# the lock file) and the DejaVu Sans font the map labels' glyphs are rendered from. The
# test tools have their own package in web/test (scripts/setup-test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() { as_root apt-get update -q && as_root apt-get install -y -q "$@"; }

command -v npm >/dev/null || apt_install nodejs npm
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || apt_install fonts-dejavu-core
(cd web && npm ci --no-audit --no-fund --loglevel=error)
