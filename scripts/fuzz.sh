#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo fuzz / libFuzzer, nightly toolchain), not part of CI:
# each target in fuzz/fuzz_targets for SECS seconds (default 300), from the seeds in
# fuzz/seeds plus the corpus kept in target/fuzz-corpus between runs. Prints executions
# and crashes per target; a crash's input lands in fuzz/artifacts/TARGET/ (replay it with
# `cargo +nightly fuzz run TARGET FILE` in fuzz/) and becomes a regression test: copy it
# into tests/fuzz-found/TARGET/, which tests/loaders.rs replays.
#   scripts/fuzz.sh [SECS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-300}; shift || true
TARGETS=("$@"); [ ${#TARGETS[@]} -gt 0 ] || TARGETS=(events_csv events_geojson geojson_files http_get)
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cd fuzz
cargo +nightly fuzz build -O
status=0
echo "| target | seconds | executions | exec/s | coverage (edges) | crashes |"
echo "|---|---|---|---|---|---|"
for t in "${TARGETS[@]}"; do
  corpus=../target/fuzz-corpus/$t
  mkdir -p "$corpus" "artifacts/$t"
  before=$(find "artifacts/$t" -type f | wc -l)
  log=../target/fuzz-$t.log
  cargo +nightly fuzz run -O "$t" "$corpus" "seeds/$t" -- \
    -max_total_time="$SECS" -print_final_stats=1 -timeout=10 >"$log" 2>&1 || status=1
  runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  crashes=$(( $(find "artifacts/$t" -type f | wc -l) - before ))
  echo "| $t | $SECS | ${runs:-?} | ${rate:-?} | ${cov:-?} | $crashes |"
done
[ $status -eq 0 ] || echo "a target stopped on a crash: see target/fuzz-TARGET.log and fuzz/artifacts/" >&2
exit $status
