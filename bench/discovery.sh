#!/usr/bin/env bash
# What discovery costs a run, on a base strata did not generate: `strata run`
# of a plain `strata init` project on shared/devset (2,000 accounts, 3.1M
# events in time order) with and without its discovered segmentations
# (`behavior` clusters, `needs` themes), and `strata icp` (which searches 30
# attributes, the early adoption of 24 events among them). Each command runs
# 3 times; the table shows the fastest.
# Usage: bench/discovery.sh [DEVSET_DIR]   (default ../shared/devset)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata-target}"
devset="$(cd "${1:-../shared/devset}" && pwd)"
cargo build --release -p strata-cli
strata="$CARGO_TARGET_DIR/release/strata"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/full" "$work/plain"
for table in accounts.csv events.parquet revenue.csv feedback.csv; do
  ln -s "$devset/$table" "$work/full/$table"
  ln -s "$devset/$table" "$work/plain/$table"
done
"$strata" init "$work/full" >/dev/null
# The same project without the discovered segmentations (blocks end at a
# blank line) and without the 90-day mix features only `behavior` reads.
awk 'BEGIN { RS = ""; ORS = "\n\n" } !/name = "behavior"/ && !/name = "needs"/' \
  "$work/full/strata.toml" | grep -v '^[a-z0-9_]*_90d = {' > "$work/plain/strata.toml"

fastest() {  # fastest wall time in seconds of 3 runs of "$@"
  local best=""
  for _ in 1 2 3; do
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    end=$(date +%s.%N)
    best=$(echo "$start $end ${best:-1e9}" | awk '{ t = $2 - $1; print (t < $3 ? t : $3) }')
  done
  echo "$best"
}
full=$(fastest "$strata" run --project "$work/full" --out "$work/full/out" --no-store --quick-report)
plain=$(fastest "$strata" run --project "$work/plain" --out "$work/plain/out" --no-store --quick-report)
icp=$(fastest "$strata" icp --project "$work/full" --days 60)
validate=$(fastest "$strata" validate --project "$work/full")
awk -v full="$full" -v plain="$plain" -v icp="$icp" -v validate="$validate" 'BEGIN {
  printf "%-58s %8s\n", "command (shared/devset, release, fastest of 3)", "seconds"
  printf "%-58s %8.2f\n", "strata run, init project (behavior + needs included)", full
  printf "%-58s %8.2f\n", "strata run, without behavior and needs", plain
  printf "%-58s %8.2f\n", "strata validate (load + features, no segmentation)", validate
  printf "%-58s %8.2f\n", "strata icp --days 60", icp
  printf "%-58s %8.2f\n", "discovery added: run difference + (icp - validate)", (full - plain) + (icp - validate)
}'
