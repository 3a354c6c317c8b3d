# Sourced by scripts/test.sh and scripts/demo.sh: installs, on Debian as root,
# what building and testing berth needs, and puts a Go toolchain of the version
# go.mod names on PATH. Safe to run again: it installs only what is missing.
set -euo pipefail

# libseccomp-dev and pkg-config build berth's seccomp support;
# docker-registry and busybox-static serve the image tests: a registry they
# start on 127.0.0.1, and a small static base image; dnsperf and wrk are the
# load generators of the network benchmarks (make bench); iptables and
# nftables set up the firewalls berth must live beside, and docker.io is the
# Docker Engine the tests run berth next to (scripts/docker-beside.sh); runc
# runs BuildKit, the reference of the image builder's tests (scripts/buildkit-ref.sh)
# and the Kubernetes test cluster's pods, which containerd, the CNI plugins
# and openssl (its certificates) serve too (scripts/k8s-test-cluster.sh).
apt_packages=(make gcc libc6-dev pkg-config libseccomp-dev git ca-certificates docker-registry busybox-static dnsperf wrk iptables nftables docker.io runc containerd containernetworking-plugins openssl)
missing=()
for p in "${apt_packages[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	apt-get update -q
	# no package's service starts on its own (docker.io's would): the tests
	# start what they need and stop it again
	made_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		made_policy=1
	fi
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"; then
		if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
		exit 1
	fi
	if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
	# The tests run their own registries; the package's system service (on
	# port 5000, where systemd runs) is not wanted.
	if [[ " ${missing[*]} " == *" docker-registry "* ]] && [ -d /run/systemd/system ]; then
		systemctl disable --now docker-registry >/dev/null 2>&1 || true
	fi
	# nor containerd's: the test cluster runs one of its own
	if [[ " ${missing[*]} " == *" containerd "* ]] && [ -d /run/systemd/system ]; then
		systemctl disable --now containerd >/dev/null 2>&1 || true
	fi
fi

want=$(awk '$1 == "go" {print $2; exit}' go.mod)
go_ok() {
	command -v go >/dev/null 2>&1 || return 1
	local have
	have=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
	[ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -1)" = "$want" ]
}
[ -x /usr/local/go/bin/go ] && export PATH="/usr/local/go/bin:$PATH"
toolchain="/usr/local/lib/berth/go$want"
[ -x "$toolchain/bin/go" ] && export PATH="$toolchain/bin:$PATH"
if ! go_ok; then
	# Debian's own Go is too old for go.mod, and too old to switch toolchains
	# by itself; it can still fetch the Go distribution, which the module
	# proxy serves as the module golang.org/toolchain.
	if ! [ -x /usr/lib/go-1.19/bin/go ]; then
		apt-get update -q
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q golang-1.19-go
	fi
	cache=$(mktemp -d)
	mod="golang.org/toolchain@v0.0.1-go$want.linux-$(dpkg --print-architecture)"
	GOMODCACHE="$cache" GOFLAGS=-modcacherw /usr/lib/go-1.19/bin/go mod download "$mod"
	mkdir -p "$(dirname "$toolchain")"
	rm -rf "$toolchain"
	cp -r "$cache/$mod" "$toolchain"
	rm -rf "$cache"
	# module zips carry no modes: make the tools executable again
	chmod +x "$toolchain"/bin/* "$toolchain"/pkg/tool/*/*
	export PATH="$toolchain/bin:$PATH"
	go_ok
fi
export PATH="$(go env GOPATH)/bin:$PATH"

staticcheck_version=v0.8.2
if ! staticcheck -version 2>/dev/null | grep -q "${staticcheck_version#v}"; then
	go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
fi
