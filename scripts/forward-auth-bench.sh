#!/usr/bin/env bash
# Measures forward-auth (docs/forward-auth.md), on this machine, with wrk:
#  1. requests per second through nginx with auth_request (the shipped snippet) against the same
#     nginx without it, one run each, and the latency forward-auth adds at p50 and p99;
#  2. the endpoint GET /api/authz/forward-auth with a valid session cookie against a bare
#     net/http server (the floor), both pinned to core 1 (taskset -c 1) with wrk on core 0,
#     three rounds alternating, median ratio; with SQLite sessions and with Redis sessions.
# Needs nginx, wrk, taskset, curl and (for the Redis run) Redis on 127.0.0.1:6379.
# --jwt starts gatehouse with --forward-auth-jwt: every allowed answer carries Remote-JWT.
# Usage: scripts/forward-auth-bench.sh [--duration 10s] [--connections 32] [--jwt]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=10s
conns=32
extra=()
while [ $# -gt 0 ]; do
	case "$1" in
	--duration) duration="$2"; shift 2 ;;
	--connections) conns="$2"; shift 2 ;;
	--jwt) extra+=(--forward-auth-jwt); shift ;;
	*) echo "unknown argument $1" >&2; exit 2 ;;
	esac
done
for tool in nginx wrk taskset curl; do
	command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done
work="$(mktemp -d)"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() {
	for _ in $(seq 1 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
	echo "$1 did not come up" >&2; exit 1
}

go build -o "$work/gatehouse" ./cmd/gatehouse
go build -o "$work/helper" ./scripts/forwardauth-bench
gate=$(free_port); app=$(free_port); proxy=$(free_port); plain=$(free_port); floor=$(free_port)
password="forward-auth bench admin password"

# start_gatehouse STORE: gatehouse pinned to core 1 with the given session store.
start_gatehouse() {
	rm -rf "$work/data"
	GATEHOUSE_ADMIN_PASSWORD="$password" taskset -c 1 "$work/gatehouse" serve --addr "127.0.0.1:$gate" \
		--data "$work/data" --session-store "$1" --redis-prefix "fabench:$$:" --trusted-proxies 127.0.0.1/32 \
		--access-default authenticated --cookie-domain example.test --log-level error \
		--sign-in-url "http://auth.example.test:$proxy/" ${extra[@]+"${extra[@]}"} >"$work/gatehouse.log" 2>&1 &
	gate_pid=$!
	pids+=("$gate_pid")
	wait_up "http://127.0.0.1:$gate/healthz"
	cookie=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
		-d "{\"username\":\"admin\",\"password\":\"$password\",\"mode\":\"session\"}" \
		"http://127.0.0.1:$gate/api/login" | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\);.*/\1/p' | head -n1)
	[ -n "$cookie" ] || { echo "no session cookie" >&2; cat "$work/gatehouse.log" >&2; exit 1; }
}
stop_gatehouse() { kill "$gate_pid"; wait "$gate_pid" 2>/dev/null || true; }

# wrk_run CPU URL [header...]: prints "<requests/s> <p50 ms> <p99 ms>".
wrk_run() {
	local cpu="$1" url="$2"; shift 2
	local args=()
	for h in "$@"; do args+=(-H "$h"); done
	taskset -c "$cpu" wrk -t1 -c"$conns" -d"$duration" --latency "${args[@]}" "$url" | awk '
		function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
		/Requests\/sec/ { rps = $2 }
		$1 == "50%" { p50 = ms($2) }
		$1 == "99%" { p99 = ms($2) }
		/Non-2xx/ { bad = $NF }
		END { if (bad > 0) { print "wrk saw " bad " non-2xx answers" > "/dev/stderr"; exit 1 } printf "%s %.3f %.3f\n", rps, p50, p99 }'
}

echo "== machine: $(nproc) cores; $(uptime)"

echo "== 1. through nginx: with forward-auth against without (sessions in SQLite, one run each of $duration, -c$conns)"
"$work/helper" app "127.0.0.1:$app" & pids+=($!)
start_gatehouse sqlite
mkdir -p "$work/nginx"
sed -e "s#127.0.0.1:9091#127.0.0.1:$gate#g" -e "s#127.0.0.1:3000#127.0.0.1:$app#g" \
	-e "s#listen 80;#listen 127.0.0.1:$proxy;#" -e "s#example.com#example.test#g" \
	deploy/forward-auth/nginx.conf >"$work/nginx/site.conf"
cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $work/nginx/body;
	proxy_temp_path $work/nginx/proxy;
	fastcgi_temp_path $work/nginx/fastcgi;
	uwsgi_temp_path $work/nginx/uwsgi;
	scgi_temp_path $work/nginx/scgi;
	include $work/nginx/site.conf;
	server {
		listen 127.0.0.1:$plain;
		location / { proxy_set_header Host \$http_host; proxy_pass http://127.0.0.1:$app; }
	}
}
NGINX
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" & pids+=($!)
wait_up "http://127.0.0.1:$plain/"
check=$(curl -s -H "Host: app.example.test:$proxy" -H "Cookie: $cookie" "http://127.0.0.1:$proxy/")
[ "$check" = "user=admin groups=admin" ] || { echo "the protected app answered: $check" >&2; exit 1; }
read -r prps pp50 pp99 < <(wrk_run 0,1 "http://127.0.0.1:$plain/" "Host: app.example.test:$plain")
read -r frps fp50 fp99 < <(wrk_run 0,1 "http://127.0.0.1:$proxy/" "Host: app.example.test:$proxy" "Cookie: $cookie")
awk -v p="$prps" -v f="$frps" -v pp50="$pp50" -v pp99="$pp99" -v fp50="$fp50" -v fp99="$fp99" 'BEGIN {
	printf "without forward-auth: %8.0f req/s  p50 %.3f ms  p99 %.3f ms\n", p, pp50, pp99
	printf "with forward-auth:    %8.0f req/s  p50 %.3f ms  p99 %.3f ms\n", f, fp50, fp99
	printf "ratio %.2f (target >= 0.5); added latency p50 %.3f ms, p99 %.3f ms\n", f/p, fp50-pp50, fp99-pp99 }'
kill "${pids[-1]}"; stop_gatehouse

echo "== 2. the endpoint against a bare net/http floor (servers on core 1, wrk on core 0, 3 rounds of $duration, -c$conns)"
taskset -c 1 "$work/helper" floor "127.0.0.1:$floor" & pids+=($!)
wait_up "http://127.0.0.1:$floor/"
for store in sqlite redis; do
	if [ "$store" = redis ] && ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
		echo "redis: not reachable on 127.0.0.1:6379, skipped"; continue
	fi
	start_gatehouse "$store"
	fwd=("X-Forwarded-Method: GET" "X-Forwarded-Proto: https" "X-Forwarded-Host: app.example.test" "X-Forwarded-Uri: /x" "Cookie: $cookie")
	ratios=()
	for round in 1 2 3; do
		read -r erps _ _ < <(wrk_run 0 "http://127.0.0.1:$gate/api/authz/forward-auth" "${fwd[@]}")
		read -r flrps _ _ < <(wrk_run 0 "http://127.0.0.1:$floor/")
		r=$(awk -v e="$erps" -v f="$flrps" 'BEGIN { printf "%.2f", e/f }')
		ratios+=("$r")
		echo "$store round $round: endpoint $erps req/s, floor $flrps req/s, ratio $r"
	done
	median=$(printf '%s\n' "${ratios[@]}" | sort -n | sed -n 2p)
	echo "$store: median ratio $median (target >= 0.6)"
	stop_gatehouse
done
echo "== machine after: $(uptime)"
