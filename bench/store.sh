#!/usr/bin/env bash
# State store benchmark (issue 5): run to run on 1M accounts x 3 segmentations,
# on SQLite and on PostgreSQL (127.0.0.1:5432, trust auth, database `test`).
# Prints the record time per run and the store's growth per account and run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata-target}"
ACCOUNTS="${ACCOUNTS:-1000000}"
cargo build --release -p strata-cli
STRATA="$CARGO_TARGET_DIR/release/strata"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"; psql -h 127.0.0.1 -U postgres -d test -q -c "DROP SCHEMA IF EXISTS strata_bench CASCADE" >/dev/null 2>&1 || true' EXIT
STORES=(--store "$WORK/bench.db")
if psql -h 127.0.0.1 -U postgres -d test -q -c "DROP SCHEMA IF EXISTS strata_bench CASCADE; CREATE SCHEMA strata_bench" >/dev/null 2>&1; then
  STORES+=(--store "postgres://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dstrata_bench")
else
  echo "PostgreSQL not reachable on 127.0.0.1:5432: SQLite only" >&2
fi
"$STRATA" bench-store --accounts "$ACCOUNTS" --runs "${RUNS:-4}" --change 0.05 "${STORES[@]}"
