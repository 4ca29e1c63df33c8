#!/usr/bin/env bash
# ICP search and needs themes against pysubgroup and scikit-learn on the same data.
# Usage: bench/decisions.sh [ACCOUNTS] [VERBATIMS]   (default 100000 200000)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/venv.sh
bench_venv pandas pysubgroup scikit-learn
cargo build --release -p strata-cli
"$CARGO_TARGET_DIR/release/strata" bench-decisions --accounts "${1:-100000}" --verbatims "${2:-200000}" \
  --python "$venv/bin/python" --script bench/decisions_peers.py --dir "$CARGO_TARGET_DIR/bench-data/decisions"
