#!/usr/bin/env bash
# API benchmark (issue 6): the real `strata serve` (bearer token, auth
# middleware, the served run behind its lock) answering
# GET /v1/accounts/{id}/segments for a project of 1M accounts and 4 rule
# segmentations, loaded by wrk over loopback with random account ids.
# Prints requests/s, latency percentiles, the index's bytes per account and
# the server's memory. Target on 2 cores: >= 30,000 requests/s, p99 < 5 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata-target}"
ACCOUNTS="${ACCOUNTS:-1000000}"
DURATION="${DURATION:-20s}"
CONNECTIONS="${CONNECTIONS:-64}"
PORT="${PORT:-8089}"
command -v wrk >/dev/null 2>&1 || { echo "wrk is needed: apt install wrk" >&2; exit 1; }
cargo build --release -p strata-cli
STRATA="$CARGO_TARGET_DIR/release/strata"
WORK="$(mktemp -d)"
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT

echo "generating $ACCOUNTS accounts..."
python3 - "$WORK" "$ACCOUNTS" <<'PY'
import random, sys
work, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
plans = ["free", "starter", "pro", "enterprise"]
countries = ["US", "GB", "DE", "FR", "CA", "AU", "NL", "BR"]
with open(f"{work}/accounts.csv", "w") as f:
    f.write("account_id,created_at,employees,plan,country\n")
    for i in range(n):
        employees = int(rng.paretovariate(1.1) * 8)
        f.write(f"acc-{i:07d},2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d},{employees},{rng.choice(plans)},{rng.choice(countries)}\n")
with open(f"{work}/events.csv", "w") as f:
    f.write("account_id,user_id,event,ts,source\n")
    for i in range(0, n, 3):
        f.write(f"acc-{i:07d},u{i},login,2026-06-{rng.randint(1, 30):02d}T10:00:00Z,app\n")
PY
cat > "$WORK/strata.toml" <<'TOML'
as_of = "2026-06-30"
[sources]
accounts = "accounts.csv"
events = "events.csv"
[[segmentation]]
name = "size"
kind = "rules"
segments = [
  { name = "SMB", when = "employees < 200" },
  { name = "Mid-Market", when = "employees BETWEEN 200 AND 1000" },
  { name = "Enterprise", when = "employees > 1000" },
]
[[segmentation]]
name = "plan"
kind = "rules"
segments = [
  { name = "paid", when = "plan IN ('starter', 'pro', 'enterprise')" },
  { name = "free", when = "plan = 'free'" },
]
[[segmentation]]
name = "region"
kind = "rules"
segments = [
  { name = "north-america", when = "country IN ('US', 'CA')" },
  { name = "europe", when = "country IN ('GB', 'DE', 'FR', 'NL')" },
]
[[segmentation]]
name = "activity"
kind = "rules"
segments = [
  { name = "active", when = "days_since_last_event <= 14" },
  { name = "quiet", when = "days_since_last_event > 14" },
]
TOML
STRATA_READ_TOKENS=bench-token "$STRATA" serve --project "$WORK" --out "$WORK/out" \
  --addr "127.0.0.1:$PORT" --no-store --quick-report --watch 0 >"$WORK/server.log" 2>&1 &
SERVER=$!
echo "first run (pipeline over $ACCOUNTS accounts)..."
for _ in $(seq 1 600); do grep -q "serving run" "$WORK/server.log" && break; sleep 1; done
grep -q "serving run" "$WORK/server.log" || { cat "$WORK/server.log"; exit 1; }
cat > "$WORK/ids.lua" <<LUA
math.randomseed(7)
wrk.headers["Authorization"] = "Bearer bench-token"
request = function()
  return wrk.format("GET", string.format("/v1/accounts/acc-%07d/segments", math.random(0, $ACCOUNTS - 1)))
end
LUA
curl -sf -H "Authorization: Bearer bench-token" "http://127.0.0.1:$PORT/v1/accounts/acc-0000042/segments" && echo
# wrk gets one thread (one core), the server the other.
wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/ids.lua" "http://127.0.0.1:$PORT" | tee "$WORK/wrk.txt"
RSS_KB=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status")
echo
echo "| accounts | requests/s | p50 | p99 | index bytes/account | server RSS (whole run in memory) |"
echo "|---|---|---|---|---|---|"
printf "| %s | %s | %s | %s | %s | %s MiB |\n" "$ACCOUNTS" \
  "$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")" \
  "$(awk '$1=="50%" {print $2}' "$WORK/wrk.txt")" \
  "$(awk '$1=="99%" {print $2}' "$WORK/wrk.txt")" \
  "$(sed -n 's/.*(index \([0-9.]*\) bytes\/account).*/\1/p' "$WORK/server.log" | tail -1)" \
  "$((RSS_KB / 1024))"
