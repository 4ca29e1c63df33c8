#!/usr/bin/env bash
# API benchmark (issue 6): GET /v1/accounts/{id}/segments on a 1M-account
# index (4 segmentations), loaded by wrk over loopback with random account ids.
# Prints requests/s, latency percentiles and the index's memory per account.
# Target on 2 cores: >= 30,000 requests/s with p99 < 5 ms.
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
"$STRATA" bench-serve --accounts "$ACCOUNTS" --addr "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 120); do grep -q listening "$WORK/server.log" && break; sleep 0.5; done
grep -q listening "$WORK/server.log" || { cat "$WORK/server.log"; exit 1; }
cat > "$WORK/ids.lua" <<LUA
math.randomseed(7)
request = function()
  return wrk.format("GET", string.format("/v1/accounts/acc-%07d/segments", math.random(0, $ACCOUNTS - 1)))
end
LUA
curl -sf "http://127.0.0.1:$PORT/v1/accounts/acc-0000042/segments" && echo
# wrk gets one thread (one core), the server the other.
wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/ids.lua" "http://127.0.0.1:$PORT" | tee "$WORK/wrk.txt"
RSS_KB=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status")
echo
echo "| accounts | requests/s | p50 | p99 | index bytes/account | server RSS |"
echo "|---|---|---|---|---|---|"
printf "| %s | %s | %s | %s | %s | %s MiB |\n" "$ACCOUNTS" \
  "$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")" \
  "$(awk '$1=="50%" {print $2}' "$WORK/wrk.txt")" \
  "$(awk '$1=="99%" {print $2}' "$WORK/wrk.txt")" \
  "$(sed -n 's/.*heap estimate \([0-9.]*\) bytes.*resident growth \([0-9.]*\) bytes.*/\1 (heap), \2 (RSS)/p' "$WORK/server.log")" \
  "$((RSS_KB / 1024))"
