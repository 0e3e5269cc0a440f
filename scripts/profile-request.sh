#!/usr/bin/env bash
# Where a request's CPU goes: perf samples of a gatehouse server and of a bare handler that gives
# the same bytes (gatehouse-bench floor --response), each under the same wrk load, split by
# scripts/perfsplit into the handler, the garbage collector, the scheduler, reading the request
# and writing the answer. Both servers run on CPU 0, wrk on CPU 1; 127.0.0.1 only, bounded.
#
#   scripts/profile-request.sh [--mode jwt-eddsa|session-memory|session-sqlite] [--duration 10s] [--rounds 2] [-- extra serve flags]
#
# Needs perf (linux-perf), wrk and taskset. Prints a markdown table (µs per request, summed over
# the rounds) and the handler's biggest frames.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=jwt-eddsa duration=10s rounds=2 hz=4000
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --mode) mode=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
for tool in perf wrk taskset curl; do
  command -v $tool >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done
[ "$(nproc)" -ge 2 ] || { echo "needs 2 CPUs: the servers on CPU 0, wrk on CPU 1" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/" ./cmd/gatehouse ./cmd/gatehouse-bench
go build -o "$work/perfsplit" ./scripts/perfsplit
export GATEHOUSE_ADMIN_PASSWORD="profile admin password"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "server at $1 did not start" >&2; exit 1; }

port=$(free_port)
args=(serve --addr "127.0.0.1:$port" --data "$work/data" --log-level error --login-throttle=false)
case $mode in
  session-memory) args+=(--session-store memory --default-mode session) ;;
  session-sqlite) args+=(--default-mode session) ;;
  jwt-eddsa) args+=(--default-mode token) ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
taskset -c 0 "$work/gatehouse" "${args[@]}" "${extra[@]}" 2>"$work/server.log" & pids+=($!)
server_pid=$!
base="http://127.0.0.1:$port"
wait_up "$base/healthz"
login='{"username":"admin","password":"'"$GATEHOUSE_ADMIN_PASSWORD"'"}'
case $mode in
  session-*)
    cookie=$(curl -s -D - -o /dev/null "$base/api/login" -H 'Content-Type: application/json' -d "$login" | awk -F'[ ;]' 'tolower($1)=="set-cookie:" {print $2}')
    header="Cookie: $cookie" ;;
  *)
    tok=$(curl -s "$base/api/login" -H 'Content-Type: application/json' -d "$login" | sed 's/.*"token":"\([^"]*\)".*/\1/')
    header="Authorization: Bearer $tok" ;;
esac
url="$base/api/protected"
curl -sf -H "$header" "$url" >"$work/body" || { echo "$mode: not authenticated" >&2; exit 1; }
python3 - "$work/body" "$work/response.json" <<'PY'
import base64, json, sys
body = open(sys.argv[1], 'rb').read()
json.dump({"status": 200, "header": {"Cache-Control": ["no-store"], "Content-Type": ["application/json"]},
           "body": base64.b64encode(body).decode()}, open(sys.argv[2], 'w'))
PY
fport=$(free_port)
taskset -c 0 "$work/gatehouse-bench" floor --addr "127.0.0.1:$fport" --response "$work/response.json" & pids+=($!)
floor_pid=$!
floor="http://127.0.0.1:$fport/api/protected"
wait_up "$floor"
# every thread of both servers on CPU 0
for p in $server_pid $floor_pid; do for t in /proc/$p/task/*; do taskset -pc 0 "${t##*/}" >/dev/null; done; done

declare -A reqs=([floor]=0 [server]=0)
: >"$work/floor.txt"; : >"$work/server.txt"
measure() { # name pid url
  perf record -q -e cpu-clock -F $hz -g -p "$2" -o "$work/$1.data" -- taskset -c 1 wrk -t1 -c32 -d"$duration" -H "$header" "$3" >"$work/wrk.txt" 2>/dev/null
  grep -q "Non-2xx" "$work/wrk.txt" && { echo "non-2xx answers from $3" >&2; cat "$work/wrk.txt" >&2; exit 1; }
  reqs[$1]=$(( ${reqs[$1]} + $(awk '/requests in/ {print $1}' "$work/wrk.txt") ))
  perf script -i "$work/$1.data" 2>/dev/null >>"$work/$1.txt"
}
for _ in $(seq "$rounds"); do
  measure floor $floor_pid "$floor"
  measure server $server_pid "$url"
done
echo "$mode, wrk -t1 -c32 -d$duration x $rounds rounds, perf -F $hz, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
echo
"$work/perfsplit" -hz $hz "$work/floor.txt" "${reqs[floor]}" "$work/server.txt" "${reqs[server]}"
