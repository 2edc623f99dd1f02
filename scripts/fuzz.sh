#!/usr/bin/env bash
# Short cargo-fuzz runs of the mutation parser and the server's merge
# (tests/fuzz): 10 s each in `make test`, 10 min each with FERRY_SOAK=1.
# Stable toolchain, so without a sanitizer (PLATFORM.md); a failing input is
# saved under tests/fuzz/artifacts/ and replays with `cargo fuzz run
# --fuzz-dir tests/fuzz --sanitizer none TARGET FILE`.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-10}"
[ "${FERRY_SOAK:-}" = 1 ] && seconds=600

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "Installing cargo-fuzz (cargo install)"
  cargo install cargo-fuzz --locked --quiet
fi

# The fuzz build (other flags) keeps out of the workspace's target directory.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ferry/target}/fuzz"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for target in mutation_parse merge; do
  echo "fuzzing $target for ${seconds}s"
  seeds=()
  [ -d "tests/fuzz/seeds/$target" ] && seeds=("tests/fuzz/corpus/$target" "tests/fuzz/seeds/$target")
  mkdir -p "tests/fuzz/corpus/$target"
  if ! cargo fuzz run --fuzz-dir tests/fuzz --sanitizer none "$target" "${seeds[@]}" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
    tail -60 "$log"
    exit 1
  fi
  grep -E "^stat::number_of_executed_units" "$log" | sed "s/^/$target /"
done
