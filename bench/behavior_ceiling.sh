#!/usr/bin/env bash
# Ceilings for the devset's behavior target: what supervised models (trained
# on the truth, which no segmentation has) and k-means with a perfect fading
# rule reach, beside strata's `behavior` segmentation when a memberships.csv
# is given. See bench/behavior_ceiling.py.
# Usage: bench/behavior_ceiling.sh [DEVSET_DIR] [MEMBERSHIPS_CSV]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/venv.sh
bench_venv duckdb pandas pyarrow scikit-learn
devset="$(cd "${1:-../shared/devset}" && pwd)"
args=("$devset")
if [ $# -ge 2 ]; then args+=(--memberships "$2"); fi
"$venv/bin/python" bench/behavior_ceiling.py "${args[@]}"
