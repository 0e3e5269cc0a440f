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
#
# start refuses to run when one of its ports is taken or the cluster of --dir is already up, and
# fails (stopping what it started) when one of its instances dies before it is ready. status
# and stop look only at the processes this script started from --dir (a pid file whose process
# is gone, or now belongs to another program, reads "down"); status exits 1 when any is down.
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

# wait_up waits until URL $1 answers, while process $2 (one of ours) is alive.
wait_up() {
	local url=$1 pid=$2 name=$3
	for _ in $(seq 150); do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "$name (pid $pid) died while starting; the end of its log ($dir/$name.log):" >&2
			tail -n 20 "$dir/$name.log" >&2 || true
			return 1
		fi
		curl -sf "$url" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "$url did not become ready; see the logs in $dir" >&2
	return 1
}

# port_taken reports whether something listens on 127.0.0.1:$1.
port_taken() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ours reports whether pid file $1 names a live process that this script started from $dir:
# an instance serving with a data directory in $dir, or nginx with its configuration there.
ours() {
	local pid
	[ -f "$1" ] || return 1
	pid=$(cat "$1")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir/"
}

# check_ports refuses to start when a port the cluster needs is taken.
check_ports() {
	local p
	for p in "$port" $(seq $((base_port + 1)) $((base_port + instances))); do
		if port_taken "$p"; then
			echo "port $p on 127.0.0.1 is taken by another process; choose other ports with --port and --base-port" >&2
			exit 1
		fi
	done
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
	local f
	for f in "$dir"/instance-*.pid "$dir"/nginx.master.pid; do
		if ours "$f"; then
			echo "the cluster of $dir is already running ($(basename "$f" .pid)); stop it first" >&2
			exit 1
		fi
	done
	check_ports
	trap 'stop >/dev/null; echo "gatehouse cluster: start failed, stopped what it had started" >&2' ERR
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
		if [ "$i" = 1 ]; then wait_up "http://$addr/readyz" "$(cat "$dir/instance-1.pid")" instance-1; fi
	done
	for i in $(seq 2 "$instances"); do
		wait_up "http://127.0.0.1:$((base_port + i))/readyz" "$(cat "$dir/instance-$i.pid")" "instance-$i"
	done
	mkdir -p "$dir/nginx-tmp"
	sed -e "s#@RUN@#$dir#g" -e "s#@LISTEN@#127.0.0.1:$port#" -e "s#@SERVERS@#$servers#" \
		"$here/nginx.conf" >"$dir/nginx.conf"
	nginx -c "$dir/nginx.conf" -p "$dir" >"$dir/nginx.log" 2>&1 &
	echo $! >"$dir/nginx.master.pid"
	wait_up "http://127.0.0.1:$port/readyz" "$(cat "$dir/nginx.master.pid")" nginx
	for i in $(seq 1 "$instances"); do
		ours "$dir/instance-$i.pid" || { echo "instance-$i is not running; see $dir/instance-$i.log" >&2; false; }
	done
	trap - ERR
	echo "gatehouse cluster: $instances instances behind http://127.0.0.1:$port (run directory $dir)"
}

stop() {
	local f
	for f in "$dir"/nginx.master.pid "$dir"/instance-*.pid; do
		[ -f "$f" ] || continue
		if ours "$f"; then kill "$(cat "$f")" 2>/dev/null || true; fi
		rm -f "$f"
	done
	echo "gatehouse cluster stopped"
}

status() {
	local f name down=0 any=0
	for f in "$dir"/instance-*.pid "$dir"/nginx.master.pid; do
		[ -f "$f" ] || continue
		any=1
		name=$(basename "$f" .pid)
		if ours "$f"; then
			echo "$name: running (pid $(cat "$f"))"
		else
			echo "$name: down"
			down=1
		fi
	done
	[ "$any" = 1 ] || { echo "no cluster in $dir"; return 1; }
	return "$down"
}

case "$cmd" in
start) start ;;
stop) stop ;;
status) status ;;
*) echo "usage: $0 start|stop|status [flags]; see the comment at the top" >&2; exit 2 ;;
esac
