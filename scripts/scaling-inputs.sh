#!/usr/bin/env bash
# Measures the inputs of docs/scaling.md on this machine, with 1, 2 and 3 gatehouse instances
# that share a private redis-server (sessions, revocations) and a fresh PostgreSQL database
# (users): Redis commands per authenticated request (client-side cache on and off) and per
# login, PostgreSQL transactions per login, and client-side-cache invalidations per revoke
# (a session logout after every instance has read the session). Everything listens on
# 127.0.0.1 and is stopped and removed at the end.
#
#   scripts/scaling-inputs.sh [--requests 2000] [--logins 50] [--revokes 20] [--max-instances 3]
#
# Needs redis-server, psql (PostgreSQL at --postgres-server, default
# postgres://postgres@127.0.0.1:5432), curl and go. Prints one markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
requests=2000 logins=50 revokes=20 max_instances=3
postgres_server="postgres://postgres@127.0.0.1:5432"
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests=$2; shift 2 ;;
    --logins) logins=$2; shift 2 ;;
    --revokes) revokes=$2; shift 2 ;;
    --max-instances) max_instances=$2; shift 2 ;;
    --postgres-server) postgres_server=$2; shift 2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d)
db="gatehouse_scaling_$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$postgres_server/postgres" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 300); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "nothing answers at $1" >&2; exit 1; }

go build -o "$work/gatehouse" ./cmd/gatehouse
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --maxmemory-policy noeviction >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
psql "$postgres_server/postgres" -qc "CREATE DATABASE \"$db\"" >/dev/null
export GATEHOUSE_ADMIN_PASSWORD="scaling inputs admin password"
login_body='{"username":"admin","password":"'"$GATEHOUSE_ADMIN_PASSWORD"'","mode":"session"}'

commands() { redis-cli -p "$rport" info stats | awk -F: '/^total_commands_processed/ {print $2+0}'; }
xacts() { psql "$postgres_server/$db" -Atc "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"; }
invalidations() {
  local sum=0 v
  for port in "$@"; do
    v=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^gatehouse_redis_invalidations_total/ {print $2}')
    sum=$(python3 -c "print(int($sum + float('${v:-0}')))")
  done
  echo "$sum"
}
login() { curl -s -D - -o /dev/null "http://127.0.0.1:$1/api/login" -H 'Content-Type: application/json' -d "$login_body" | awk -F'[ ;]' 'tolower($1)=="set-cookie:" {print $2}'; }

# start N [extra flags...]: starts N instances on the shared stores; prints their ports.
start() {
  local n=$1; shift
  local ports=()
  for i in $(seq "$n"); do
    local port; port=$(free_port)
    "$work/gatehouse" serve --addr "127.0.0.1:$port" --data "$work/data-$i" --log-level error --login-throttle=false \
      --issuer http://gatehouse-scaling.invalid --session-store redis --redis-url "redis://127.0.0.1:$rport/0" \
      --user-store postgres --postgres-url "$postgres_server/$db?sslmode=disable" --keys-file "$work/keys.json" \
      --argon2-memory 64 --argon2-time 1 --argon2-parallelism 1 "$@" >"$work/gatehouse-$i.log" 2>&1 &
    pids+=($!)
    wait_up "http://127.0.0.1:$port/readyz"
    ports+=("$port")
  done
  echo "${ports[@]}"
}
stop_all() { for p in "${pids[@]:1}"; do kill "$p" 2>/dev/null || true; done; sleep 1; pids=("${pids[0]}"); }

# background N SECONDS: Redis commands per second with N idle instances (heartbeats, leases).
idle_rate() { local a b; a=$(commands); sleep "$1"; b=$(commands); python3 -c "print(($b - $a) / $1)"; }

# per_request PORT COOKIE: Redis commands per authenticated request, background removed.
per_request() {
  local port=$1 cookie=$2 bg a b t0 t1
  bg=$(idle_rate 3)
  a=$(commands); t0=$(date +%s.%N)
  for _ in $(seq "$requests"); do printf 'url = "http://127.0.0.1:%s/api/protected"\noutput = "/dev/null"\n' "$port"; done >"$work/urls"
  curl -s -K "$work/urls" -H "Cookie: $cookie"
  b=$(commands); t1=$(date +%s.%N)
  python3 -c "print(round(max(0, ($b - $a) - $bg * ($t1 - $t0)) / $requests, 3))"
}

echo "| input | measured | how |"
echo "| --- | --- | --- |"
read -r -a p <<<"$(start 1)"
cookie=$(login "${p[0]}")
curl -s -o /dev/null "http://127.0.0.1:${p[0]}/api/protected" -H "Cookie: $cookie"
echo "| Redis commands per authenticated request, client-side cache on | $(per_request "${p[0]}" "$cookie") | $requests GET /api/protected with one session, 1 instance |"
bg=$(idle_rate 3)
echo "| Redis commands per second of one idle instance | $bg | heartbeats and leases, over 3 s |"
a=$(commands); x=$(xacts); t0=$(date +%s.%N)
for _ in $(seq "$logins"); do login "${p[0]}" >/dev/null; done
b=$(commands); y=$(xacts); t1=$(date +%s.%N)
echo "| Redis commands per session login | $(python3 -c "print(round(max(0, ($b - $a) - $bg * ($t1 - $t0)) / $logins, 2))") | $logins logins (mode session) |"
echo "| PostgreSQL transactions per session login | $(python3 -c "print(round(($y - $x) / $logins, 2))") | pg_stat_database of the users' database |"
stop_all
read -r -a p <<<"$(start 1 --redis-client-cache=false)"
cookie=$(login "${p[0]}")
echo "| Redis commands per authenticated request, client-side cache off | $(per_request "${p[0]}" "$cookie") | the same, --redis-client-cache=false |"
stop_all
for n in $(seq "$max_instances"); do
  read -r -a p <<<"$(start "$n")"
  total=0
  for _ in $(seq "$revokes"); do
    cookie=$(login "${p[0]}")
    for port in "${p[@]}"; do curl -s -o /dev/null "http://127.0.0.1:$port/api/protected" -H "Cookie: $cookie"; done
    sleep 0.2
    before=$(invalidations "${p[@]}")
    curl -s -o /dev/null -X POST "http://127.0.0.1:${p[0]}/api/logout" -H "Cookie: $cookie" -H "Origin: http://127.0.0.1:${p[0]}"
    sleep 0.5
    after=$(invalidations "${p[@]}")
    total=$((total + after - before))
  done
  echo "| client-side-cache invalidations per session logout, $n instance(s) | $(python3 -c "print(round($total / $revokes, 2))") | $revokes logouts after every instance read the session; sum of gatehouse_redis_invalidations_total |"
  stop_all
done
