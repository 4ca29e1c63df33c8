#!/usr/bin/env bash
# Incremental daily runs (issue 21): the day's run after its events file
# landed in the events folder (reading only that file) against the same run
# with --full, phase by phase, on generated time-ordered events.
#   bench/incremental.sh [EVENTS] [ACCOUNTS]     (default 10M events)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata-target}"
cargo build --release -p strata-cli
ARGS=(--events "${1:-10000000}" --dir "$CARGO_TARGET_DIR/bench-data")
if [ -n "${2:-}" ]; then ARGS+=(--accounts "$2"); fi
"$CARGO_TARGET_DIR/release/strata" bench-incremental "${ARGS[@]}"
