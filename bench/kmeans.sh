#!/usr/bin/env bash
# k-means benchmark: strata against scikit-learn (and faiss when it installs)
# on the same generated matrices; prints one table.
# Usage: bench/kmeans.sh [--sizes 100000x12,1000000x16] [--threads 2] [--repeats 3]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/venv.sh
bench_venv scikit-learn threadpoolctl numpy
# faiss is optional: wheels are not available everywhere.
"$venv/bin/pip" install --quiet --disable-pip-version-check faiss-cpu \
  || echo "faiss-cpu did not install; the table will not have faiss" >&2
# Examples pull in dev-dependencies, so this shares its dependency builds
# with `cargo test --release -p strata-core` (not with the release CLI).
cargo build --release -p strata-core --example kmeans_bench
"$CARGO_TARGET_DIR/release/examples/kmeans_bench" \
  --python "$venv/bin/python" --script bench/kmeans_sklearn.py "$@"
