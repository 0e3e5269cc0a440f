#!/usr/bin/env bash
# End-to-end benchmark: wrk against GET /api/protected on a real gatehouse binary, for every
# authentication mode, next to a bare net/http hello handler (the floor) in the same run.
# Traffic goes to 127.0.0.1 only; each wrk run is bounded by --duration.
#
#   scripts/bench-wrk.sh [--duration 10s] [--connections 64] [--rounds 3] [--modes "m1 m2 ..."]
#
# Modes: session-memory session-sqlite jwt-eddsa jwt-es256 jwt-hs256 (one instance, SQLite), and
# session-redis session-redis-nocache jwt-eddsa-redis (the scale-out stores: sessions and
# revocation checks in the local Redis, users in the local PostgreSQL; -nocache turns Redis
# client-side caching off). Default: all of them. The Redis modes share one key file and use
# --redis-url (default redis://127.0.0.1:6379/0, keys under a fresh prefix, deleted at the end)
# and a fresh PostgreSQL database on the server of --postgres-server (default
# postgres://postgres@127.0.0.1:5432), dropped at the end.
#
# Needs wrk (apt-get install wrk). Prints a markdown table: req/s (median of the rounds),
# p50/p99 latency of the median round, and the ratio to the hello floor measured right before
# each mode (median of the paired ratios).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=10s connections=64 rounds=3
modes=(session-memory session-sqlite jwt-eddsa jwt-es256 jwt-hs256 session-redis session-redis-nocache jwt-eddsa-redis)
postgres_server="postgres://postgres@127.0.0.1:5432"
bench_db="gatehouse_bench_$$"
redis_url="redis://127.0.0.1:6379/0"
redis_prefix="gatehouse-bench-$$:"
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --modes) read -r -a modes <<<"$2"; shift 2 ;;
    --postgres-server) postgres_server=$2; shift 2 ;;
    --redis-url) redis_url=$2; shift 2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "${redis_used:-}" ] && command -v redis-cli >/dev/null; then
    # Keys hold binary hashes: delete them inside Redis rather than through a pipe.
    redis-cli -u "$redis_url" EVAL "local c = '0' repeat local r = redis.call('SCAN', c, 'MATCH', ARGV[1], 'COUNT', 1000); c = r[1]; for _, k in ipairs(r[2]) do redis.call('DEL', k) end until c == '0' return 0" 0 "$redis_prefix*" >/dev/null || true
  fi
  if [ -n "${redis_used:-}" ]; then
    psql "$postgres_server/postgres" -qc "DROP DATABASE IF EXISTS \"$bench_db\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/gatehouse" ./cmd/gatehouse
go build -o "$work/hello" ./scripts/hello
export GATEHOUSE_ADMIN_PASSWORD="benchmark admin password"
port=18080

wait_up() { for _ in $(seq 100); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "server at $1 did not start" >&2; exit 1; }

# run_wrk URL [header] -> "reqs p50 p99" of one run
run_wrk() {
  local out
  if [ -n "${2:-}" ]; then out=$(wrk -t2 -c"$connections" -d"$duration" --latency -H "$2" "$1")
  else out=$(wrk -t2 -c"$connections" -d"$duration" --latency "$1"); fi
  if echo "$out" | grep -q "Non-2xx"; then echo "non-2xx answers from $1:" >&2; echo "$out" >&2; exit 1; fi
  local reqs p50 p99
  reqs=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  echo "$reqs $p50 $p99"
}

case " ${modes[*]} " in *-redis*)
  command -v psql >/dev/null || { echo "the Redis modes need psql (apt-get install postgresql-client)" >&2; exit 1; }
  redis_used=1
  psql "$postgres_server/postgres" -qc "CREATE DATABASE \"$bench_db\"" >/dev/null ;;
esac
postgres_url="$postgres_server/$bench_db?sslmode=disable"

declare -A url hdr
port=$((port + 1))
"$work/hello" -addr "127.0.0.1:$port" & pids+=($!)
hello="http://127.0.0.1:$port/"
wait_up "$hello"

for mode in "${modes[@]}"; do
  port=$((port + 1))
  # One issuer for every mode: the Redis modes share one PostgreSQL database, which records it.
  args=(serve --addr "127.0.0.1:$port" --data "$work/data-$mode" --log-level error --issuer http://gatehouse-bench.invalid)
  case $mode in
    session-memory) args+=(--session-store memory) ;;
    *-redis*) args+=(--session-store redis --redis-url "$redis_url" --redis-prefix "$redis_prefix$mode:"
                 --user-store postgres --postgres-url "$postgres_url" --keys-file "$work/redis-keys.json") ;;&
    session-redis-nocache) args+=(--redis-client-cache=false) ;;
    jwt-es256) args+=(--signing-alg ES256) ;;
    jwt-hs256) args+=(--signing-alg HS256) ;;
  esac
  "$work/gatehouse" "${args[@]}" 2>"$work/$mode.log" & pids+=($!)
  base="http://127.0.0.1:$port"
  wait_up "$base/healthz"
  case $mode in
    session-*)
      cookie=$(curl -s -D - -o /dev/null "$base/api/login" -H 'Content-Type: application/json' -d '{"username":"admin","password":"'"$GATEHOUSE_ADMIN_PASSWORD"'","mode":"session"}' | awk -F'[ ;]' 'tolower($1)=="set-cookie:" {print $2}')
      hdr[$mode]="Cookie: $cookie" ;;
    *)
      tok=$(curl -s "$base/api/login" -H 'Content-Type: application/json' -d '{"username":"admin","password":"'"$GATEHOUSE_ADMIN_PASSWORD"'","mode":"token"}' | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
      hdr[$mode]="Authorization: Bearer $tok" ;;
  esac
  url[$mode]="$base/api/protected"
  curl -sf -H "${hdr[$mode]}" "${url[$mode]}" >/dev/null || { echo "$mode: not authenticated" >&2; exit 1; }
done

# Each round measures the floor right before each mode, so that the machine's drift over the
# run does not bias the ratio; the reported ratio is the median of a mode's paired ratios.
declare -A runs ratios
for round in $(seq "$rounds"); do
  for mode in "${modes[@]}"; do
    h=$(run_wrk "$hello")
    m=$(run_wrk "${url[$mode]}" "${hdr[$mode]}")
    runs[hello]+="$h"$'\n'
    runs[$mode]+="$m"$'\n'
    ratios[$mode]+=$(awk -v a="${m%% *}" -v b="${h%% *}" 'BEGIN {printf "%.3f", a / b}')$'\n'
  done
done

median() { sort -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'; }

echo
echo "wrk -t2 -c$connections -d$duration, $rounds rounds, floor measured before each mode, $(nproc) cores, $(date -u +%Y-%m-%d)"
echo
echo "| mode | req/s (median) | p50 | p99 | vs hello (median of paired runs) |"
echo "|---|---:|---:|---:|---:|"
read -r reqs p50 p99 <<<"$(printf '%s' "${runs[hello]}" | median)"
echo "| hello (floor) | $reqs | $p50 | $p99 | 1.00x |"
for mode in "${modes[@]}"; do
  read -r reqs p50 p99 <<<"$(printf '%s' "${runs[$mode]}" | median)"
  ratio=$(printf '%s' "${ratios[$mode]}" | median)
  echo "| $mode | $reqs | $p50 | $p99 | ${ratio}x |"
done
