#!/usr/bin/env bash
# Feature and whole-run benchmark: strata against DuckDB (the reference query,
# ../shared/peers/duckdb_features.sql) and Polars on the same generated files,
# events in time order and, as a second row, clustered by account.
# Usage: bench/run.sh [EVENTS,...] [ACCOUNTS] [-- more `strata bench` flags]
#   default 1000000,10000000 events; one account per 1,470 events unless
#   ACCOUNTS is given, e.g. bench/run.sh 100000000 1000000 -- --layouts time
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/venv.sh
bench_venv duckdb polars
cargo build --release -p strata-cli
events="${1:-1000000,10000000}"
accounts="${2:-}"
shift $(( $# > 2 ? 2 : $# ))
[ "${1:-}" = "--" ] && shift
"$CARGO_TARGET_DIR/release/strata" bench --events "$events" \
  --python "$venv/bin/python" --script bench/peers.py \
  --peer-sql ../shared/peers/duckdb_features.sql --dir "$CARGO_TARGET_DIR/bench-data" \
  ${accounts:+--accounts "$accounts"} "$@"
