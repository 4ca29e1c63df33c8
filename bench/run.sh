#!/usr/bin/env bash
# Feature benchmark: strata against DuckDB on the same generated Parquet file.
# Usage: bench/run.sh [EVENTS,...]   (default 1000000,10000000)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata-target}"
venv="$CARGO_TARGET_DIR/bench-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check duckdb
cargo build --release -p strata-cli
"$CARGO_TARGET_DIR/release/strata" bench --events "${1:-1000000,10000000}" \
  --python "$venv/bin/python" --script bench/duckdb_features.py --dir "$CARGO_TARGET_DIR/bench-data"
