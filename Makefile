# Sahel Atlas. The two commands the README opens with:
#   make run    build and serve the shipped data on http://127.0.0.1:8080
#   make test   install test tools, then run every test (what CI runs)

ADDR ?= 127.0.0.1:8080
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run build test test-setup web-setup lint check-data geodata image compose-test clean

run: build web-setup
	./target/release/sahel-atlas serve --addr $(ADDR) --data geodata --web web

build:
	cargo build --release --locked

# MapLibre (npm) and the label font.
web/node_modules/.package-lock.json: web/package-lock.json web/package.json
	bash scripts/setup-web.sh

web-setup: web/node_modules/.package-lock.json

# Python with GeographicLib, shapely and an MVT decoder (the independent truth the tests
# compare against), and Chromium for the browser test.
$(PY): tests/requirements.txt scripts/setup-test.sh web/test/package-lock.json
	bash scripts/setup-test.sh $(VENV)

test-setup: $(PY) web-setup

lint:
	cargo fmt --all -- --check
	cargo clippy --locked --all-targets -- -D warnings
	# The fuzz targets build against the library's API (they run on nightly: scripts/fuzz.sh).
	cargo check --locked --manifest-path fuzz/Cargo.toml

test: test-setup lint
	SAHEL_PYTHON=$(abspath $(PY)) cargo test --locked --all-targets
	cargo test --locked --doc
	# The container image (built and checked under podman) and the scaled setup under
	# podman-compose: they must never silently break again.
	bash scripts/image.sh
	bash scripts/compose-test.sh

# Build the container image and check it under podman (scripts/image.sh).
image:
	bash scripts/image.sh

# The scaled setup (compose.yaml: PostGIS, two replicas, nginx) under podman-compose.
compose-test:
	bash scripts/compose-test.sh

check-data: build
	./target/release/sahel-atlas check --data geodata

# Rebuild geodata/ from the extracted sources (developers only; outputs are committed).
geodata:
	python3 scripts/build_geodata.py --src ../shared/data --out geodata

clean:
	cargo clean
	rm -rf $(VENV) web/node_modules web/test/node_modules
