# Sahel Atlas. The two commands the README opens with:
#   make run    build and serve the shipped data on http://127.0.0.1:8080
#   make test   install test tools, then run every test (what CI runs)

ADDR ?= 127.0.0.1:8080
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run build test test-setup lint check-data geodata clean

run: build
	./target/release/sahel-atlas serve --addr $(ADDR) --data geodata

build:
	cargo build --release --locked

# Python with GeographicLib and shapely: the independent truth the tests compare against.
$(PY): tests/requirements.txt
	bash scripts/setup-test.sh $(VENV)

test-setup: $(PY)

lint:
	cargo fmt --all -- --check
	cargo clippy --locked --all-targets -- -D warnings

test: test-setup lint
	SAHEL_PYTHON=$(abspath $(PY)) cargo test --locked --all-targets
	cargo test --locked --doc

check-data: build
	./target/release/sahel-atlas check --data geodata

# Rebuild geodata/ from the extracted sources (developers only; outputs are committed).
geodata:
	python3 scripts/build_geodata.py --src ../shared/data --out geodata

clean:
	cargo clean
	rm -rf $(VENV)
