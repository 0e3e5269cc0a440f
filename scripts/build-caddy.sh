#!/usr/bin/env bash
# Builds Caddy from its Go module, once per machine and version, for the forward-auth end-to-end
# tests (cmd/gatehouse/proxy_caddy_test.go), and prints the binary's path. Later runs, and tests
# running at the same time (a lock), reuse the binary in ${TMPDIR:-/tmp}/gatehouse-caddy-<version>.
# Needs the Go module proxy the first time.
set -euo pipefail
version="${CADDY_VERSION:-v2.11.9}"
dir="${TMPDIR:-/tmp}/gatehouse-caddy-$version"
bin="$dir/caddy"
mkdir -p "$dir"
exec 9>"$dir.lock"
flock 9
if [ ! -x "$bin" ]; then
	work="$(mktemp -d)"
	trap 'rm -rf "$work"' EXIT
	cat >"$work/main.go" <<'GO'
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func main() { caddycmd.Main() }
GO
	printf 'module gatehouse-caddy\n\ngo 1.26.0\n' >"$work/go.mod"
	(
		cd "$work"
		export GOWORK=off GOFLAGS=-mod=mod
		go get "github.com/caddyserver/caddy/v2@$version"
		go mod tidy
		go build -o "$bin.tmp" .
	) >&2
	mv "$bin.tmp" "$bin"
fi
echo "$bin"
