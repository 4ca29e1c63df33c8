#!/usr/bin/env python3
# Usage: python bench/incremental_check.py DATA_DIR WORK_DIR DAYS (DuckDB installed; the release strata built)
#   e.g. python bench/incremental_check.py ../shared/devset /tmp/dev 3
"""Incremental vs full runs on a real-shaped base: the events split into a
folder (history + the last N days one file each), each day landed and run
incrementally, then with --full; features.parquet compared cell by cell."""
import duckdb, os, shutil, subprocess, sys
src, work, days = sys.argv[1], sys.argv[2], int(sys.argv[3])
strata = os.path.expanduser("~/.cache/strata-target/release/strata")
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work + "/data/events")
for name in os.listdir(src):
    if name.endswith(".csv") and not name.startswith("truth"):
        shutil.copy(os.path.join(src, name), work + "/data/" + name)
con = duckdb.connect()
ev = f"read_parquet('{src}/events.parquet')"
last = con.execute(f"select max(ts::date) from {ev}").fetchone()[0]
import datetime
first = last - datetime.timedelta(days=days - 1)
con.execute(f"copy (select * from {ev} where ts::date < DATE '{first}') to '{work}/data/events/0-history.parquet' (format parquet)")
staged = []
for k in range(days):
    d = first + datetime.timedelta(days=k)
    path = f"{work}/staged-{d}.parquet"
    con.execute(f"copy (select * from {ev} where ts::date = DATE '{d}') to '{path}' (format parquet)")
    staged.append((d, path))
subprocess.run([strata, "init", work, "--as-of", str(first - datetime.timedelta(days=1))], check=True, capture_output=True)
def run(day, *flags):
    out = subprocess.run([strata, "run", "--project", work, "--out", f"{work}/out", "--as-of", str(day), *flags], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(out.stderr)
    line = [l for l in out.stdout.splitlines() if l.startswith("events:")]
    return line[0] if line else "(no scan line)"
print(run(first - datetime.timedelta(days=1)))
bad = 0
for d, path in staged:
    shutil.move(path, f"{work}/data/events/{d}.parquet")
    print(d, run(d))
    shutil.copy(f"{work}/out/features.parquet", f"{work}/incremental.parquet")
    run(d, "--full")
    diff = con.execute(f"select count(*) from (select * from '{work}/incremental.parquet' except all select * from '{work}/out/features.parquet')").fetchone()[0] \
         + con.execute(f"select count(*) from (select * from '{work}/out/features.parquet' except all select * from '{work}/incremental.parquet')").fetchone()[0]
    rows = con.execute(f"select count(*) from '{work}/out/features.parquet'").fetchone()[0]
    print(f"  {rows} accounts, rows differing from --full: {diff}")
    bad += diff
print("IDENTICAL" if bad == 0 else f"DIFFERENT: {bad}")
