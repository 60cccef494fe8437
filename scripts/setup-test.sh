#!/usr/bin/env bash
# Installs what the test suite needs beyond Rust: a Python virtualenv with the packages
# in tests/requirements.txt (GeographicLib, shapely, mapbox-vector-tile) used as
# independent ground truth, Debian's Chromium for the browser test, gdal-bin (ogrinfo,
# ogr2ogr) as a real OGC API – Features client, and PostgreSQL 15 with PostGIS, which
# tests/replicas.rs starts as the store replicas share; and web/test's npm packages
# (playwright-core, Lighthouse).
set -euo pipefail
venv=${1:-.venv}
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v ogrinfo >/dev/null || missing+=(gdal-bin)
[ -f /usr/share/postgresql/15/extension/postgis.control ] && [ -x /usr/lib/postgresql/15/bin/initdb ] \
  || missing+=(postgresql-15-postgis-3 postgresql-15)
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -q
  as_root apt-get install -y -q "${missing[@]}"
fi
if ! command -v python3 >/dev/null || ! python3 -m venv --help >/dev/null 2>&1; then
  as_root apt-get update -q
  as_root apt-get install -y -q python3 python3-venv python3-pip
fi
rm -rf "$venv"
python3 -m venv "$venv" || {
  # Debian's python3 ships venv without ensurepip unless python3-venv is installed.
  as_root apt-get update -q && as_root apt-get install -y -q python3-venv && python3 -m venv "$venv"
}
"$venv/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt
# The browser test's and Lighthouse's npm packages, apart from the map's own (web/test has
# its own lock: Lighthouse's overrides break Debian's npm 9, which the image builds with).
command -v npm >/dev/null || { as_root apt-get update -q && as_root apt-get install -y -q nodejs npm; }
(cd web/test && npm ci --no-audit --no-fund --loglevel=error)
"$venv/bin/python" -c "import geographiclib, shapely; print('test tools ready:', geographiclib.__version__, shapely.__version__)"
