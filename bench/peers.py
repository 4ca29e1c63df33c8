"""Peers of `strata bench`: the nine event features of DATA.md, computed by
DuckDB (the reference query, ../shared/peers/duckdb_features.sql) or by
Polars (the same two aggregates, lazily), from the same files strata reads.

Usage: peers.py duckdb|polars DATA_DIR AS_OF OUT.csv [SQL_FILE]

DATA_DIR holds accounts.csv and events.parquet. Prints one JSON line,
{"seconds": ..., "peak_mib": ..., "accounts": ...}, timing the query alone
(reading the files is part of it; starting Python is not), and writes the
features to OUT.csv so that strata compares them value by value.
"""
import json
import sys
import time


def peak_rss_mib():
    # This process's own high-water mark (ru_maxrss would survive exec).
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def write_csv(path, columns, rows):
    with open(path, "w") as handle:
        handle.write(",".join(columns) + "\n")
        for row in rows:
            handle.write(",".join(
                "" if v is None else repr(v) if isinstance(v, float) else str(v) for v in row) + "\n")


def duckdb_features(data, as_of, sql_file):
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute(f"CREATE VIEW accounts AS SELECT * FROM read_csv('{data}/accounts.csv', all_varchar = true)")
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{data}/events.parquet')")
    con.execute(f"SET VARIABLE as_of = DATE '{as_of}'")
    # Whole-line comments out first (they hold semicolons), then one
    # statement per semicolon: the settings, then the query.
    with open(sql_file) as handle:
        code = "\n".join(line for line in handle if not line.strip().startswith("--"))
    statements = [s.strip() for s in code.split(";") if s.strip()]
    *setup, query = statements
    for statement in setup:
        con.execute(statement)
    started = time.perf_counter()
    cursor = con.execute(query)
    rows = cursor.fetchall()
    seconds = time.perf_counter() - started
    return seconds, [c[0] for c in cursor.description], rows


def polars_features(data, as_of):
    import datetime as dt
    import os

    os.environ.setdefault("POLARS_MAX_THREADS", "2")
    import polars as pl

    day = dt.date.fromisoformat(as_of)
    t_end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
    t_28, t_56 = t_end - dt.timedelta(days=28), t_end - dt.timedelta(days=56)
    started = time.perf_counter()
    events = pl.scan_parquet(f"{data}/events.parquet")
    ts = pl.col("ts").dt.convert_time_zone("UTC") if events.collect_schema()["ts"].time_zone else pl.col("ts").dt.replace_time_zone("UTC")
    events = events.with_columns(ts.alias("ts")).filter(pl.col("ts") < t_end)
    is_api = pl.col("source").is_in(["api", "integration"]).fill_null(False)
    all_time = events.group_by("account_id").agg(
        pl.col("event").n_unique().alias("distinct_events"),
        pl.len().alias("n_events"),
        is_api.sum().alias("n_api"),
        ((pl.col("ts") >= t_56) & (pl.col("ts") < t_28)).sum().alias("events_prev_28d"),
        pl.col("ts").max().alias("last_ts"),
    )
    recent = events.filter(pl.col("ts") >= t_28).group_by("account_id").agg(
        pl.len().alias("events_28d"),
        pl.col("ts").dt.date().n_unique().alias("active_days_28d"),
        pl.col("user_id").drop_nulls().n_unique().alias("users_28d"),
        pl.col("event").n_unique().alias("distinct_events_28d"),
        is_api.sum().alias("n_api_28d"),
    )
    accounts = pl.scan_csv(f"{data}/accounts.csv", infer_schema=False).select("account_id")
    joined = accounts.join(all_time, on="account_id", how="left").join(recent, on="account_id", how="left")
    zero = lambda name: pl.col(name).fill_null(0).cast(pl.Int64).alias(name)
    out = joined.select(
        "account_id",
        zero("events_28d"),
        zero("active_days_28d"),
        zero("users_28d"),
        zero("distinct_events"),
        zero("distinct_events_28d"),
        pl.when(pl.col("n_events") > 0).then(pl.col("n_api") / pl.col("n_events")).alias("api_share"),
        pl.when(pl.col("events_28d") > 0).then(pl.col("n_api_28d") / pl.col("events_28d")).alias("api_share_28d"),
        (pl.lit(day) - pl.col("last_ts").dt.date()).dt.total_days().alias("days_since_last_event"),
        pl.when(pl.col("events_prev_28d") > 0)
        .then(pl.col("events_28d").fill_null(0) / pl.col("events_prev_28d"))
        .alias("trend_28d"),
    ).sort("account_id").collect()
    seconds = time.perf_counter() - started
    return seconds, out.columns, out.rows()


def main():
    peer, data, as_of, out = sys.argv[1:5]
    if peer == "duckdb":
        seconds, columns, rows = duckdb_features(data, as_of, sys.argv[5])
    elif peer == "polars":
        seconds, columns, rows = polars_features(data, as_of)
    else:
        sys.exit(f"unknown peer {peer}: duckdb or polars")
    peak = peak_rss_mib()
    write_csv(out, columns, rows)
    print(json.dumps({"seconds": seconds, "peak_mib": peak, "accounts": len(rows)}))


if __name__ == "__main__":
    main()
