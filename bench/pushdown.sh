#!/usr/bin/env bash
# PostgreSQL pushdown benchmark: `strata demo` data with N events (default
# 10,000,000) loaded into PostgreSQL (127.0.0.1:5432, database test, schema
# strata_bench), then the demo project run three ways, timed end to end:
#   embedded engine on the Parquet/CSV files,
#   embedded engine reading the PostgreSQL tables,
#   engine = postgres (events stay in the database).
# Usage: bench/pushdown.sh [EVENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/venv.sh
bench_venv duckdb
cargo build --release -p strata-cli
strata="$CARGO_TARGET_DIR/release/strata"
events="${1:-10000000}"
dir="$CARGO_TARGET_DIR/bench-pushdown-$events"
url="postgres://postgres@127.0.0.1:5432/test"
pg() { psql -h 127.0.0.1 -U postgres -d test -v ON_ERROR_STOP=1 -q "$@"; }

if [ ! -f "$dir/data/events.parquet" ]; then
  "$strata" demo --out "$dir" --events "$events" --no-run
fi

echo "loading into PostgreSQL (schema strata_bench)..."
"$venv/bin/python" - "$dir/data" > "$dir/load.sql" <<'EOF'
import sys, duckdb
data = sys.argv[1]
types = {"VARCHAR": "TEXT", "BIGINT": "BIGINT", "INTEGER": "INTEGER", "DOUBLE": "DOUBLE PRECISION",
         "FLOAT": "DOUBLE PRECISION", "DATE": "DATE", "TIMESTAMP": "TIMESTAMP",
         "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ", "BOOLEAN": "BOOLEAN", "SMALLINT": "INTEGER"}
print("DROP SCHEMA IF EXISTS strata_bench CASCADE; CREATE SCHEMA strata_bench;")
for table, file in [("accounts", "accounts.csv"), ("events", "events.parquet"), ("revenue", "revenue.csv")]:
    source = f"'{data}/{file}'"
    columns = duckdb.sql(f"DESCRIBE SELECT * FROM {source}").fetchall()
    ddl = ", ".join(f'"{name}" {types.get(kind, "TEXT")}' for name, kind, *_ in columns)
    print(f"CREATE TABLE strata_bench.{table} ({ddl});")
    duckdb.sql(f"COPY (SELECT * FROM {source}) TO '{data}/{table}.pg.csv' (HEADER, DELIMITER ',')")
    print(f"\\copy strata_bench.{table} FROM '{data}/{table}.pg.csv' CSV HEADER")
print("ANALYZE strata_bench.accounts; ANALYZE strata_bench.events; ANALYZE strata_bench.revenue;")
EOF
load_start=$(date +%s.%N)
pg -f "$dir/load.sql"
load_s=$(echo "$(date +%s.%N) - $load_start" | bc)
rm -f "$dir"/data/*.pg.csv

# The same project reading the PostgreSQL tables.
mkdir -p "$dir/pg"
sed -e "s|^accounts *= .*|accounts = { postgres = \"$url\", table = \"strata_bench.accounts\" }|" \
    -e "s|^events *= .*|events = { postgres = \"$url\", table = \"strata_bench.events\" }|" \
    -e "s|^revenue *= .*|revenue = { postgres = \"$url\", table = \"strata_bench.revenue\" }|" \
    -e "s|^feedback *= \"\(.*\)\"|feedback = \"$dir/\1\"|" \
    "$dir/strata.toml" > "$dir/pg/strata.toml"

measure() { # name, project, extra args...
  local name="$1" project="$2"; shift 2
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$dir/rss" "$strata" run --project "$project" --out "$dir/out-$name" \
    --no-store --quick-report "$@" > /dev/null
  end=$(date +%s.%N)
  printf "| %-28s | %8.1f s | %8d MiB |\n" "$name" "$(echo "$end - $start" | bc)" "$(( $(cat "$dir/rss") / 1024 ))"
}

echo
echo "events: $events   load into PostgreSQL: ${load_s%.*} s"
echo "| run                          |     time |  strata RSS |"
echo "|------------------------------|----------|-------------|"
measure "embedded, files" "$dir"
measure "embedded, postgres tables" "$dir/pg"
measure "engine = postgres" "$dir/pg" --engine postgres
if cmp -s "$dir/out-embedded, files/memberships.csv" "$dir/out-engine = postgres/memberships.csv"; then
  echo "memberships: identical on all engines"
else
  echo "memberships: the postgres engine differs from the files run (clusterings fit on a sample differ)"
fi
