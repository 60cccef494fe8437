#!/usr/bin/env bash
# The durability test with more cycles than CI runs: a client streams one-event writes,
# the server is killed with SIGKILL at a random moment, restarted, and every acknowledged
# write must be there exactly as sent (then `PRAGMA integrity_check`).
#   scripts/kill-test.sh [CYCLES]      default 20
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || make test-setup
SAHEL_PYTHON="$PWD/.venv/bin/python" SAHEL_KILL_CYCLES="${1:-20}" \
  cargo test --release --locked --test durability -- --nocapture
