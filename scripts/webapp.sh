#!/usr/bin/env bash
# The demo (`make demo`): builds the example stack's images from one static
# Go binary and Debian's busybox, runs examples/webapp with `berth up -d
# --wait`, shows `berth ps`, fetches a page through the published port twice
# (the visit counter lives in the kv service's named volume), and takes it
# all down again. Everything happens in a temporary state root that is
# removed at the end; nothing is fetched from the network.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/berth}
PORT=${WEB_PORT:-18080}
root=$(mktemp -d)
# berth turns IPv4 forwarding on for its networks, as Docker does; the demo
# gives the machine its own setting back
forwarding=$(cat /proc/sys/net/ipv4/ip_forward)
B() { "$BIN" --root "$root/state" "$@"; }
say() { printf '\n$ berth %s\n' "$*"; }
cleanup() {
	B -f examples/webapp/compose.yaml down -v -t 1 >/dev/null 2>&1 || true
	rm -rf "$root" "/run/berth/$(printf '%s' "$root/state" | sha256sum | cut -c1-12)"
	echo "$forwarding" >/proc/sys/net/ipv4/ip_forward
}
trap cleanup EXIT

# the images: busybox for the shell and wget the healthchecks use, and the
# demo binary under the names the services run it by
rootfs=$root/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/data"
chmod 1777 "$rootfs/tmp"
cp /bin/busybox "$rootfs/bin/"
for a in sh wget cat ls; do ln -s busybox "$rootfs/bin/$a"; done
CGO_ENABLED=0 go build -o "$rootfs/bin/demo" ./examples/webapp/demo
for r in web api migrate kv; do ln -s demo "$rootfs/bin/$r"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"
say "image import ./rootfs berth-demo/web   # and tagged as berth-demo/api, berth-demo/kv"
B image import -c 'CMD ["sh"]' "$rootfs" berth-demo/web
B image tag berth-demo/web berth-demo/api
B image tag berth-demo/web berth-demo/kv

say "-f examples/webapp/compose.yaml up -d --wait"
WEB_PORT=$PORT B -f examples/webapp/compose.yaml up -d --wait
say "-f examples/webapp/compose.yaml ps"
B -f examples/webapp/compose.yaml ps
for i in 1 2; do
	printf '\n$ wget -q -O- http://127.0.0.1:%s/\n' "$PORT"
	busybox wget -q -O- "http://127.0.0.1:$PORT/"
done
say "-f examples/webapp/compose.yaml logs migrate"
B -f examples/webapp/compose.yaml logs migrate
say "-f examples/webapp/compose.yaml down -v"
B -f examples/webapp/compose.yaml down -v
