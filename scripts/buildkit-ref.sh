#!/usr/bin/env bash
# BuildKit itself, the reference that berth's image builder is compared
# with (issue 16): buildkitd and buildctl at the version of BuildKit whose
# Dockerfile frontend berth links, built from the Go module proxy into a
# cache outside the repository, and run as root on Debian's runc.
#
#   scripts/buildkit-ref.sh build                  build once; prints the cache directory
#   scripts/buildkit-ref.sh start DIR [HOST:PORT...]  start buildkitd with its state under DIR;
#                                                  HOST:PORTs are plain-HTTP registries it may pull
#                                                  from (the tests' on 127.0.0.1); prints its address
#   scripts/buildkit-ref.sh stop DIR               stop that buildkitd and remove DIR
#
# buildkitd runs its RUN steps with the host's network: the compared
# Dockerfiles send no traffic, and base images come from a registry on
# loopback. Its state (snapshots, cache) lives under DIR only, so a test
# starts from nothing and leaves nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(awk '$1 == "github.com/moby/buildkit" {print $2; exit}' go.mod)
version=${version:-v0.34.2}
cache=${BERTH_BUILDKIT_CACHE:-/var/cache/berth-test/buildkit-$version}

build() {
	if [ -x "$cache/buildkitd" ] && [ -x "$cache/buildctl" ]; then
		echo "$cache"
		return
	fi
	command -v runc >/dev/null || { echo "buildkit-ref: runc is not installed (apt-get install runc)" >&2; exit 1; }
	mod=$(mktemp -d)
	trap 'rm -rf "$mod"' RETURN
	cat >"$mod/tools.go" <<-EOF
	//go:build tools

	package tools

	import (
		_ "github.com/moby/buildkit/cmd/buildctl"
		_ "github.com/moby/buildkit/cmd/buildkitd"
	)
	EOF
	(
		cd "$mod"
		go mod init berth-buildkit-ref >/dev/null 2>&1
		GOFLAGS=-mod=mod go get "github.com/moby/buildkit@$version" >&2
		GOFLAGS=-mod=mod go mod tidy >&2
		mkdir -p "$cache.tmp"
		GOFLAGS=-mod=mod go build -o "$cache.tmp/" github.com/moby/buildkit/cmd/buildkitd github.com/moby/buildkit/cmd/buildctl >&2
	)
	rm -rf "$cache"
	mv "$cache.tmp" "$cache"
	echo "$cache"
}

start() {
	dir=$1
	shift
	build >/dev/null
	mkdir -p "$dir/root"
	{
		echo "root = \"$dir/root\""
		echo '[worker.oci]'
		echo '  enabled = true'
		echo '  snapshotter = "overlayfs"'
		echo '  networkMode = "host"'
		echo '  gc = false'
		echo '[worker.containerd]'
		echo '  enabled = false'
		for r in "$@"; do
			echo "[registry.\"$r\"]"
			echo '  http = true'
			echo '  insecure = true'
		done
	} >"$dir/buildkitd.toml"
	addr="unix://$dir/buildkitd.sock"
	setsid "$cache/buildkitd" --config "$dir/buildkitd.toml" --addr "$addr" >"$dir/buildkitd.log" 2>&1 &
	echo $! >"$dir/buildkitd.pid"
	for _ in $(seq 1 300); do
		if "$cache/buildctl" --addr "$addr" debug workers >/dev/null 2>&1; then
			echo "$addr"
			return
		fi
		if ! kill -0 "$(cat "$dir/buildkitd.pid")" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	echo "buildkit-ref: buildkitd did not start; its log:" >&2
	tail -20 "$dir/buildkitd.log" >&2
	stop "$dir"
	exit 1
}

stop() {
	dir=$1
	if [ -f "$dir/buildkitd.pid" ]; then
		pid=$(cat "$dir/buildkitd.pid")
		# only the buildkitd this script started there
		if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$cache/buildkitd" ]; then
			kill "$pid"
			for _ in $(seq 1 100); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -9 "$pid" 2>/dev/null || true
		fi
	fi
	# what buildkitd left mounted under its root, deepest first
	if [ -d "$dir" ]; then
		awk -v d="$(realpath "$dir")/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
			umount -l "$m" || true
		done
		rm -rf "$dir"
	fi
}

case ${1:-} in
build) build ;;
start) [ $# -ge 2 ] || { echo "usage: $0 start DIR [HOST:PORT...]" >&2; exit 2; }; shift; start "$@" ;;
stop) [ $# -eq 2 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }; stop "$2" ;;
*) echo "usage: $0 build | start DIR [HOST:PORT...] | stop DIR" >&2; exit 2 ;;
esac
