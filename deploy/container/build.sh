#!/usr/bin/env bash
# Build the gatehouse container image without pulling anything from a registry: a static
# binary built here, on an empty (scratch) base.
#
#   deploy/container/build.sh [--tag gatehouse:latest] [--tool podman|docker] [--binary PATH]
#
# --binary uses a static binary built elsewhere (it must have been built with CGO_ENABLED=0).
# The build needs Go (unless --binary) and podman (apt-get install podman) or docker.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

tag=gatehouse:latest tool=podman binary=""
while [ $# -gt 0 ]; do
	case "$1" in
	--tag) tag=$2; shift 2 ;;
	--tool) tool=$2; shift 2 ;;
	--binary) binary=$2; shift 2 ;;
	*) echo "unknown argument $1" >&2; exit 2 ;;
	esac
done
command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install podman)" >&2; exit 1; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
if [ -n "$binary" ]; then
	cp "$binary" "$ctx/gatehouse"
else
	(cd "$repo" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$ctx/gatehouse" ./cmd/gatehouse)
fi
mkdir -p "$ctx/rootfs/etc" "$ctx/rootfs/data"
chmod 0700 "$ctx/rootfs/data"
install -m 0644 "$here/etc/passwd" "$here/etc/group" "$ctx/rootfs/etc/"

format=()
# podman writes OCI images by default, which have no HEALTHCHECK.
[ "$tool" = podman ] && format=(--format docker)
"$tool" build "${format[@]}" -f "$here/Containerfile" -t "$tag" "$ctx"
