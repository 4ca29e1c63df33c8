#!/usr/bin/env bash
# Learned risks: time to build the point-in-time tables and to train and
# score, and held-out AUC against scikit-learn on the same examples.
# Usage: bench/risk.sh [ACCOUNTS] [HISTORY_MONTHS]     (default 10000 24)
#        bench/risk.sh --project DIR                    (an existing project, e.g. an init project on shared/devset)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/venv.sh
bench_venv pandas pyarrow scikit-learn
cargo build --release -p strata-cli
if [ "${1:-}" = "--project" ]; then
  "$CARGO_TARGET_DIR/release/strata" bench-risk --project "$2" --history "${3:-24}" \
    --python "$venv/bin/python" --script bench/risk_peers.py --dir "$CARGO_TARGET_DIR/bench-data/risk"
else
  "$CARGO_TARGET_DIR/release/strata" bench-risk --accounts "${1:-10000}" --history "${2:-24}" \
    --python "$venv/bin/python" --script bench/risk_peers.py --dir "$CARGO_TARGET_DIR/bench-data/risk"
fi
