#!/usr/bin/env bash
# Load test of `gradcam serve` on loopback (issue: 8 concurrent clients, zero errors,
# p99 latency ≤ 10× p50, resident memory flat after warm-up). Starts the release build,
# warms it up, then runs wrk with 8 connections for $DURATION seconds (default 60) and
# compares the server's resident memory after the load with after the warm-up.
#   scripts/serve-load.sh [MODEL]      (default shapes-captioner; DURATION=15 for a quick run)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-shapes-captioner}
duration=${DURATION:-60}
gradcam=.build/release/gradcam
command -v wrk >/dev/null || { echo "serve-load: wrk is not installed (apt-get install wrk)"; exit 1; }
log=$(mktemp)
"$gradcam" serve --port 0 --models Models > "$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q "^listening on" "$log" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$log" | head -1)
[ -n "$url" ] || { cat "$log"; echo "serve-load: the server did not start"; exit 1; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$server/status"; }
run() { IMAGE=notebooks-cli/images/scene-1.png MODEL=$model wrk -t 2 -c 8 -d "$1" -s scripts/serve-load.lua "$url/api/explain"; }
# Warm-up: long enough to fill the result cache (32 results) several times over.
run 10s > /dev/null
# wrk leaves its last 8 requests behind; they finish before the measured run starts.
sleep 3
before=$(rss)
result=$(run "${duration}s" | tail -1)
after=$(rss)
echo "serve-load: $model, 8 connections for ${duration}s: $result; resident memory ${before} kB after warm-up, ${after} kB after the load"
read -r _ requests _ errors _ p50 _ p99 <<< "$result"
fail=0
[ "$errors" -eq 0 ] || { echo "serve-load: FAIL $errors errors"; fail=1; }
awk -v a="$p99" -v b="$p50" 'BEGIN { exit !(a <= 10 * b) }' || { echo "serve-load: FAIL p99 $p99 ms > 10 × p50 $p50 ms"; fail=1; }
# Flat: within 10% (+ 16 MB of allocator slack) of the warmed-up server's.
[ "$after" -le $((before + before / 10 + 16384)) ] || { echo "serve-load: FAIL memory grew from $before kB to $after kB"; fail=1; }
kill -TERM $server; wait $server || { echo "serve-load: FAIL the server did not stop cleanly on SIGTERM"; fail=1; }
[ $fail -eq 0 ] && echo "serve-load: passed ($requests requests)"
exit $fail
