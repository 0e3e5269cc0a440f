#!/usr/bin/env bash
# Soak test: a real gatehouse binary on 127.0.0.1 under mixed traffic (token and session logins,
# protected requests, refresh rotation, logouts and revoked tokens, session listing, wrong
# passwords from ever new addresses) for a bounded time. Every interval it records the server's
# resident memory, goroutines, open file descriptors, requests and errors; it fails if any request
# gets an unexpected answer or if a resource trends upward.
#
#   scripts/soak.sh [--duration 10m] [--interval 10s] [--workers 4]
#
# Traffic goes to 127.0.0.1 only and stops by itself after --duration.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=10m interval=10s workers=4
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d)
server=""
cleanup() { if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/gatehouse" ./cmd/gatehouse
go build -o "$work/soak" ./scripts/soak
export GATEHOUSE_ADMIN_PASSWORD="the soak test admin password"

# Short access tokens and a small throttle table, so that expiry sweeps and throttle eviction
# happen within the run; wrong passwords come "through" a trusted proxy from many addresses.
# The soak looks for leaks and wrong answers, not latency: its workers never want more hashes
# at once than --workers, so a long --hash-wait keeps a machine busy with other work from
# turning a slow login into the "server busy" answer (503) that a full hashing queue gives.
: > "$work/server.log"
"$work/gatehouse" serve --addr 127.0.0.1:0 --data "$work/data" --log-format json \
  --access-ttl 1m --clock-skew 5s --trusted-proxies 127.0.0.1/32 --throttle-max-keys 4096 --hash-wait 1m \
  2> "$work/server.log" &
server=$!
addr=""
for _ in $(seq 300); do
  addr=$(sed -n 's/.*"msg":"gatehouse listening","addr":"\([^"]*\)".*/\1/p' "$work/server.log" | head -n 1 || true)
  [ -n "$addr" ] && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.05
done
[ -n "$addr" ] || { echo "soak: the server did not start" >&2; cat "$work/server.log" >&2; exit 1; }
echo "soak: server pid $server on $addr for $duration (sampling every $interval, $workers workers)"
status=0
"$work/soak" --base "http://$addr" --pid "$server" --duration "$duration" --interval "$interval" --workers "$workers" || status=$?
if [ "$status" -ne 0 ]; then
  echo "soak: last server log lines:" >&2
  grep -v '"msg":"audit"' "$work/server.log" | tail -n 20 >&2 || true
fi
exit "$status"
