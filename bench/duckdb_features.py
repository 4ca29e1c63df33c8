"""DuckDB peer for `strata bench`: the nine event features of DATA.md.

Usage: duckdb_features.py EVENTS.parquet AS_OF OUT.csv
Prints {"seconds": ..., "peak_mib": ...} on stdout; writes the features to OUT.csv
so strata can compare them value by value.
"""
import json
import resource
import sys
import time

import duckdb



def peak_rss_mib():
    # ru_maxrss survives exec on Linux (it would report the parent's peak), so
    # read this process's own high-water mark instead.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


events, as_of, out = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect()
con.execute("SET threads = 2")
query = f"""
WITH ev AS (
  SELECT account_id, user_id, event, source, CAST(ts AS DATE) AS day
  FROM read_parquet('{events}')
  WHERE ts < TIMESTAMPTZ '{as_of} 00:00:00+00' + INTERVAL 1 DAY
), p AS (SELECT DATE '{as_of}' AS d)
SELECT account_id,
  count(*) FILTER (WHERE day > d - 28) AS events_28d,
  count(DISTINCT day) FILTER (WHERE day > d - 28) AS active_days_28d,
  count(DISTINCT user_id) FILTER (WHERE day > d - 28) AS users_28d,
  count(DISTINCT event) AS distinct_events,
  count(DISTINCT event) FILTER (WHERE day > d - 28) AS distinct_events_28d,
  avg(CASE WHEN source IN ('api', 'integration') THEN 1.0 ELSE 0.0 END) AS api_share,
  avg(CASE WHEN source IN ('api', 'integration') THEN 1.0 ELSE 0.0 END) FILTER (WHERE day > d - 28) AS api_share_28d,
  d - max(day) AS days_since_last_event,
  count(*) FILTER (WHERE day > d - 28)::DOUBLE
    / nullif(count(*) FILTER (WHERE day > d - 56 AND day <= d - 28), 0) AS trend_28d
FROM ev, p
GROUP BY account_id, d
"""
con.execute("SET TimeZone = 'UTC'")
started = time.perf_counter()
cursor = con.execute(query)
rows = cursor.fetchall()
seconds = time.perf_counter() - started
peak_mib = peak_rss_mib()
columns = [column[0] for column in cursor.description]
with open(out, "w") as handle:
    handle.write(",".join(columns) + "\n")
    for row in rows:
        handle.write(",".join("" if v is None else repr(v) if isinstance(v, float) else str(v) for v in row) + "\n")
print(json.dumps({"seconds": seconds, "peak_mib": peak_mib, "accounts": len(rows)}))
