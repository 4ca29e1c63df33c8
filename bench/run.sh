#!/usr/bin/env bash
# Feature benchmark: strata against DuckDB on the same generated Parquet file.
# Usage: bench/run.sh [EVENTS,...] [ACCOUNTS]   (default 1000000,10000000; one
# account per 1,470 events unless ACCOUNTS is given, e.g. 100000000 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/venv.sh
bench_venv duckdb
cargo build --release -p strata-cli
"$CARGO_TARGET_DIR/release/strata" bench --events "${1:-1000000,10000000}" \
  --python "$venv/bin/python" --script bench/duckdb_features.py --dir "$CARGO_TARGET_DIR/bench-data" \
  ${2:+--accounts "$2"}
