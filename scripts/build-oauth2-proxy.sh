#!/usr/bin/env bash
# Builds oauth2-proxy from its Go module, once per machine and version, for the OpenID Connect
# end-to-end test with a relying party we did not write (cmd/gatehouse/provider_proxy_test.go), and
# prints the binary's path. Later runs, and builds started at the same time (a lock), reuse the
# binary in ${TMPDIR:-/tmp}/gatehouse-oauth2-proxy-<version>. Needs the Go module proxy the first time.
set -euo pipefail
version="${OAUTH2_PROXY_VERSION:-v7.15.6}"
dir="${TMPDIR:-/tmp}/gatehouse-oauth2-proxy-$version"
bin="$dir/oauth2-proxy"
mkdir -p "$dir"
exec 9>"$dir.lock"
flock 9
if [ ! -x "$bin" ]; then
	work="$(mktemp -d)"
	trap 'rm -rf "$work"' EXIT
	(
		# go install module@version builds with the module's own go.mod and go.sum, as its
		# maintainers release it; the version string is set the way their Makefile sets it.
		export GOWORK=off GOFLAGS= GOBIN="$work"
		nice -n 10 go install \
			-ldflags "-X github.com/oauth2-proxy/oauth2-proxy/v7/pkg/version.VERSION=$version" \
			"github.com/oauth2-proxy/oauth2-proxy/v7@$version"
	) >&2
	mv "$work/oauth2-proxy" "$bin.tmp"
	mv "$bin.tmp" "$bin"
fi
echo "$bin"
