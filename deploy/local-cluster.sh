#!/usr/bin/env bash
# A local gatehouse cluster: N identical instances sharing PostgreSQL (users, refresh tokens,
# durable revocations) and Redis (sessions, revocation cache), one signing key file, and nginx
# as a round-robin load balancer with no affinity.
#
#   deploy/local-cluster.sh start [--instances 3] [--port 8080] [--base-port 18080]
#                                 [--session-store redis] [--dir ./cluster-run]
#                                 [--postgres-url URL] [--redis-url URL] [--redis-prefix P]
#                                 [--binary PATH]
#   deploy/local-cluster.sh stop   [--dir ./cluster-run]
#   deploy/local-cluster.sh status [--dir ./cluster-run]
#
# Instance i listens on 127.0.0.1:<base-port + i>, nginx on 127.0.0.1:<port>. The first admin
# gets GATEHOUSE_ADMIN_PASSWORD (default "cluster admin password"). Logs and pid files go to
# the run directory. Needs nginx (apt-get install nginx), PostgreSQL and Redis on 127.0.0.1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

cmd=${1:-}
[ $# -gt 0 ] && shift
instances=3 port=8080 base_port=18080 session_store=redis dir=./cluster-run binary=""
postgres_url="postgres://postgres@127.0.0.1:5432/gatehouse?sslmode=disable"
redis_url="redis://127.0.0.1:6379/0" redis_prefix="gatehouse-cluster:"
while [ $# -gt 0 ]; do
	case "$1" in
	--instances) instances=$2; shift 2 ;;
	--port) port=$2; shift 2 ;;
	--base-port) base_port=$2; shift 2 ;;
	--session-store) session_store=$2; shift 2 ;;
	--dir) dir=$2; shift 2 ;;
	--postgres-url) postgres_url=$2; shift 2 ;;
	--redis-url) redis_url=$2; shift 2 ;;
	--redis-prefix) redis_prefix=$2; shift 2 ;;
	--binary) binary=$2; shift 2 ;;
	*) echo "unknown argument $1" >&2; exit 2 ;;
	esac
done
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

wait_up() {
	for _ in $(seq 150); do
		curl -sf "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "$1 did not become ready; see the logs in $dir" >&2
	return 1
}

# ensure_database creates the database of --postgres-url if it does not exist.
ensure_database() {
	local db base
	db=$(echo "$postgres_url" | sed -E 's#^[a-z]+://[^/]*/([^?]*).*#\1#')
	base=$(echo "$postgres_url" | sed -E 's#^([a-z]+://[^/]*)/.*#\1/postgres#')
	[ -n "$db" ] && command -v psql >/dev/null || return 0
	# Best effort: if this fails, the instances say why in their logs.
	if ! psql "$base" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" 2>/dev/null | grep -q 1; then
		psql "$base" -qc "CREATE DATABASE \"$db\"" >/dev/null 2>&1 || true
	fi
}

start() {
	command -v nginx >/dev/null || { echo "nginx is not installed: apt-get install nginx" >&2; exit 1; }
	if [ -z "$binary" ]; then
		binary="$dir/gatehouse"
		(cd "$repo" && go build -o "$binary" ./cmd/gatehouse)
	fi
	ensure_database
	export GATEHOUSE_ADMIN_PASSWORD="${GATEHOUSE_ADMIN_PASSWORD:-cluster admin password}"
	local servers="" i addr
	for i in $(seq 1 "$instances"); do
		addr="127.0.0.1:$((base_port + i))"
		mkdir -p "$dir/instance-$i"
		"$binary" serve --addr "$addr" --data "$dir/instance-$i" --keys-file "$dir/keys.json" \
			--issuer "http://gatehouse.cluster" \
			--user-store postgres --postgres-url "$postgres_url" \
			--session-store "$session_store" --redis-url "$redis_url" --redis-prefix "$redis_prefix" \
			>"$dir/instance-$i.log" 2>&1 &
		echo $! >"$dir/instance-$i.pid"
		servers="$servers		server $addr max_fails=1 fail_timeout=2s;\n"
		# The first instance creates the schema, the first admin and the key file; the others
		# start once it is up.
		[ "$i" = 1 ] && wait_up "http://$addr/readyz"
	done
	for i in $(seq 2 "$instances"); do
		wait_up "http://127.0.0.1:$((base_port + i))/readyz"
	done
	mkdir -p "$dir/nginx-tmp"
	sed -e "s#@RUN@#$dir#g" -e "s#@LISTEN@#127.0.0.1:$port#" -e "s#@SERVERS@#$servers#" \
		"$here/nginx.conf" >"$dir/nginx.conf"
	nginx -c "$dir/nginx.conf" -p "$dir" >"$dir/nginx.log" 2>&1 &
	echo $! >"$dir/nginx.master.pid"
	wait_up "http://127.0.0.1:$port/readyz"
	echo "gatehouse cluster: $instances instances behind http://127.0.0.1:$port (run directory $dir)"
}

stop() {
	local f
	for f in "$dir"/nginx.master.pid "$dir"/instance-*.pid; do
		[ -f "$f" ] || continue
		kill "$(cat "$f")" 2>/dev/null || true
		rm -f "$f"
	done
	echo "gatehouse cluster stopped"
}

status() {
	local f name
	for f in "$dir"/instance-*.pid "$dir"/nginx.master.pid; do
		[ -f "$f" ] || continue
		name=$(basename "$f" .pid)
		if kill -0 "$(cat "$f")" 2>/dev/null; then echo "$name: running (pid $(cat "$f"))"; else echo "$name: down"; fi
	done
}

case "$cmd" in
start) start ;;
stop) stop ;;
status) status ;;
*) echo "usage: $0 start|stop|status [flags]; see the comment at the top" >&2; exit 2 ;;
esac
