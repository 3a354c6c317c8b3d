#!/usr/bin/env bash
# A single-node Kubernetes cluster for berth's tests, on loopback and fresh
# state, built from the Go module proxy (no binary lives in the repository).
#
#   scripts/k8s-test-cluster.sh build    # once per machine: binaries and the pause image into $BERTH_K8S_CACHE
#   scripts/k8s-test-cluster.sh built    # exit 0 when that cache is complete
#   scripts/k8s-test-cluster.sh start    # prints export KUBECONFIG=... KUBECTL=... REGISTRY=...; state under a temp dir
#   scripts/k8s-test-cluster.sh status   # exit 0 when the node is Ready
#   scripts/k8s-test-cluster.sh stop     # ends what start started and removes every trace of it
#
# docs/kubernetes.md ("Test cluster") says what the host needs and why each
# setting below is there.
# -E: start's ERR trap (stop what was started) holds inside its functions too
set -eEuo pipefail

K8S_VERSION=v1.37.2
STAGING_VERSION=v0.37.2
ETCD_VERSION=v3.7.0
# the cluster's DNS, as a process on the node's address
COREDNS_VERSION=v1.15.0
# pause.c's own version, as k8s' build/pause/Makefile tags the image
PAUSE_TAG=3.10.2

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${BERTH_K8S_CACHE:-/var/cache/berth-test/k8s-$K8S_VERSION}
# where start records the cluster for stop and status: one cluster at a
# time, as its links have fixed names
statefile=/run/berth-test-k8s.env

log() { printf 'k8s-test-cluster: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl kube-proxy coredns)

# ---------------------------------------------------------------- build

# how the cache's binaries are made: a cache made otherwise is built again
# (a binary added to the list is just built)
recipe="k8s $K8S_VERSION etcd $ETCD_VERSION coredns $COREDNS_VERSION pause $PAUSE_TAG; version stamped"

# complete: the stamp build writes last, of this recipe, with every binary
complete() {
	[ -e "$cache/complete" ] && [ "$(cat "$cache/recipe" 2>/dev/null)" = "$recipe" ] || return 1
	local b
	for b in "${binaries[@]}"; do
		[ -x "$cache/bin/$b" ] || return 1
	done
}

build() {
	if complete; then
		log "cache $cache is complete"
		return 0
	fi
	rm -f "$cache/complete"
	[ "$(id -u)" = 0 ] || die "build writes $cache: run as root"
	command -v go >/dev/null || die "go is not on PATH (scripts/deps.sh puts it there)"
	if [ "$(cat "$cache/recipe" 2>/dev/null)" != "$recipe" ]; then
		rm -rf "$cache/bin" "$cache/pause.oci.tar" "$cache/complete" "$cache/build-times"
	fi
	mkdir -p "$cache/bin"
	printf '%s\n' "$recipe" >"$cache/recipe"
	local mod
	mod=$(mktemp -d /tmp/berth-k8s-build.XXXXXX)
	# shellcheck disable=SC2064
	trap "rm -rf '$mod'" EXIT
	export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0

	# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces
	# them with ./staging/src/...; a module that depends on it must name
	# the published versions itself.
	(cd "$mod" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >"$mod/k8s.json")
	local kdir
	kdir=$(sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' "$mod/k8s.json")
	[ -d "$kdir" ] || die "k8s.io/kubernetes@$K8S_VERSION not in the module cache"
	{
		printf 'module berth.test/k8scluster\n\ngo 1.26.0\n\nrequire (\n'
		printf '\tk8s.io/kubernetes %s\n\tgo.etcd.io/etcd/server/v3 %s\n)\n\nreplace (\n' "$K8S_VERSION" "$ETCD_VERSION"
		awk -v v="$STAGING_VERSION" '$2 == "=>" && $3 ~ /^\.\/staging\/src\// {printf "\t%s => %s %s\n", $1, $1, v}' "$kdir/go.mod"
		printf ')\n'
	} >"$mod/go.mod"
	# go.etcd.io/etcd/server/v3's root package is etcd's main
	cat >"$mod/tools.go" <<-'EOF'
		//go:build tools

		package tools

		import (
			_ "go.etcd.io/etcd/server/v3"
			_ "k8s.io/kubernetes/cmd/kube-apiserver"
			_ "k8s.io/kubernetes/cmd/kube-controller-manager"
			_ "k8s.io/kubernetes/cmd/kube-scheduler"
			_ "k8s.io/kubernetes/cmd/kubectl"
			_ "k8s.io/kubernetes/cmd/kubelet"
		)
	EOF
	(cd "$mod" && go mod tidy)
	# CoreDNS in a module of its own: it names its own client-go
	mkdir -p "$mod/coredns"
	printf 'module berth.test/k8scoredns\n\ngo 1.26.0\n\nrequire github.com/coredns/coredns %s\n' "$COREDNS_VERSION" >"$mod/coredns/go.mod"
	printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/coredns/coredns"\n' >"$mod/coredns/tools.go"
	(cd "$mod/coredns" && go mod tidy)

	# the version a release build stamps (hack/lib/version.sh): nodes,
	# kubectl version and the API server's /version report v1.37.2
	local v=k8s.io/component-base/version c=k8s.io/client-go/pkg/version minor
	minor=${K8S_VERSION#v1.}
	minor=${minor%%.*}
	local stamp="-X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
	stamp+=" -X $c.gitVersion=$K8S_VERSION -X $c.gitMajor=1 -X $c.gitMinor=$minor -X $c.gitTreeState=clean"
	local b pkg ldflags t0 t1
	for b in "${binaries[@]}"; do
		[ -x "$cache/bin/$b" ] && continue
		local dir=$mod
		case $b in
		etcd) pkg=go.etcd.io/etcd/server/v3 ldflags="-s -w" ;;
		coredns) pkg=github.com/coredns/coredns ldflags="-s -w" dir=$mod/coredns ;;
		*) pkg=k8s.io/kubernetes/cmd/$b ldflags="-s -w $stamp" ;;
		esac
		log "building $b"
		t0=$(date +%s)
		# the machine is shared: the build takes only idle CPU
		(cd "$dir" && nice -n 19 go build -trimpath -ldflags="$ldflags" -o "$cache/bin/$b.tmp" "$pkg")
		mv "$cache/bin/$b.tmp" "$cache/bin/$b"
		t1=$(date +%s)
		printf '%s %ss\n' "$b" $((t1 - t0)) | tee -a "$cache/build-times" >&2
	done

	build_pause "$mod/pause" "$kdir"
	date -u +%FT%TZ >"$cache/complete"
	log "cache $cache is complete"
}

# build_pause WORKDIR KDIR: the pod sandbox image: k8s' pause.c (of KDIR,
# k8s.io/kubernetes's module directory, as build found it), static, alone in
# a rootfs that berth packages as an OCI image (saved as an OCI archive that
# start imports).
build_pause() {
	[ -e "$cache/pause.oci.tar" ] && return 0
	local work=$1 src=$2/build/pause/linux/pause.c
	[ -e "$src" ] || die "no $src"
	mkdir -p "$work/rootfs" "$work/root"
	gcc -Os -static -o "$work/rootfs/pause" "$src" -DVERSION="\"$PAUSE_TAG\""
	strip "$work/rootfs/pause"
	local berth root=$work/root
	berth=$(berth_bin "$work") || die "building berth for the pause image failed"
	"$berth" --root "$root" image import -c 'ENTRYPOINT ["/pause"]' "$work/rootfs" "berth.test/pause:$PAUSE_TAG" >/dev/null
	"$berth" --root "$root" image save -o "$cache/pause.oci.tar.tmp" "berth.test/pause:$PAUSE_TAG"
	mv "$cache/pause.oci.tar.tmp" "$cache/pause.oci.tar"
	# and the run directory berth keeps per state root (monitor.RunDir)
	rm -rf "$root" "/run/berth/$(printf '%s' "$root" | sha256sum | cut -c1-12)"
}

# berth_bin DIR: berth as the tests build it ($BERTH), or built from this
# checkout into DIR
berth_bin() {
	if [ -n "${BERTH:-}" ]; then
		printf '%s\n' "$BERTH"
		return
	fi
	local out=$1/berth
	# as make build does: the scratch module's settings are not berth's
	(cd "$repo" && env -u GOFLAGS -u CGO_ENABLED -u GOWORK nice -n 19 go build -tags seccomp -o "$out" ./cmd/berth) >&2 || return 1
	printf '%s\n' "$out"
}

# ---------------------------------------------------------------- start

# Addresses: the node's on a bridge of its own with no ports (this kernel has
# no dummy links), the pods' on the CNI bridge, the
# services' only in the API server's books (no kube-proxy). Nothing here
# routes anywhere but these links and loopback.
NODE_LINK=berthk8s0
NODE_IP=10.237.255.1
POD_BRIDGE=berthk8sbr0
POD_SUBNET=10.237.0.0/24
SERVICE_RANGE=10.237.128.0/24
SERVICE_IP=10.237.128.1
# the only route a pod has: no default route, so nothing a pod sends
# leaves the machine
CLUSTER_RANGE=10.237.0.0/16
NODE_NAME=berth-k8s-node
CNI_NET=berth-k8s
CNI_CACHE=/var/lib/cni
CONTAINER_LOGS=/var/log/containers
# the kubelet's device plugin socket is there whatever its root dir
DEVICE_PLUGINS=/var/lib/kubelet
# containerd's shims make their sockets in /run/containerd/s, whatever its state dir
SHIM_SOCKETS=/run/containerd
PAUSE_IMAGE=berth.test/pause:$PAUSE_TAG

# What the kubelet would write into the host's sysctls at start (its
# setupKernelTunables, kernel.panic_on_oops among them): it sees these
# values in files bound over /proc/sys in a mount namespace of its own,
# so it writes nothing.
kubelet_sysctls=(vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000)

# free_port VAR: a port nothing listens on, and not one given out already
used_ports=" "
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 20000))
		case $used_ports in *" $p "*) continue ;; esac
		if ! ss -Htan "( sport = :$p )" | grep -q .; then
			used_ports+="$p "
			printf -v "$1" '%s' "$p"
			return
		fi
	done
}

# run NAME CMD...: starts CMD in the background, logs to $state/log/NAME.log,
# its pid in $state/pid/NAME, which is all stop ever kills
run() {
	local name=$1
	shift
	"$@" >"$state/log/$name.log" 2>&1 </dev/null &
	echo $! >"$state/pid/$name"
}

# wait_for NAME SECONDS CMD...: polls CMD until it succeeds, giving up
# early when the process start ran as NAME has died
wait_for() {
	local name=$1 secs=$2 i
	shift 2
	for ((i = 0; i < secs * 10; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		if [ -e "$state/pid/$name" ] && ! kill -0 "$(cat "$state/pid/$name")" 2>/dev/null; then
			log "$name exited"
			return 1
		fi
		sleep 0.1
	done
	log "$name not ready after ${secs}s"
	return 1
}

certs() {
	local pki=$state/pki
	mkdir -p "$pki"
	cd "$pki"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=berth-test-k8s-ca 2>/dev/null
	# sign NAME SUBJECT [SAN]
	sign() {
		openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
		if [ -n "${3:-}" ]; then
			printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$3" >"$1.ext"
		else
			printf 'extendedKeyUsage=clientAuth\n' >"$1.ext"
		fi
		openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 2 -extfile "$1.ext" 2>/dev/null
	}
	sign apiserver /CN=kube-apiserver "IP:127.0.0.1,IP:$SERVICE_IP,IP:$NODE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
	sign admin "/O=system:masters/CN=berth-test-admin"
	sign apiserver-kubelet "/O=system:masters/CN=kube-apiserver-kubelet-client"
	sign controller-manager /CN=system:kube-controller-manager
	sign scheduler /CN=system:kube-scheduler
	sign kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
	openssl genrsa -out sa.key 2048 2>/dev/null
	openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
	cd - >/dev/null
}

kubeconfig() { # NAME PORT
	cat >"$state/$1.kubeconfig" <<-EOF
		apiVersion: v1
		kind: Config
		clusters:
		- name: berth-test
		  cluster:
		    certificate-authority: $state/pki/ca.crt
		    server: https://127.0.0.1:$2
		users:
		- name: $1
		  user:
		    client-certificate: $state/pki/$1.crt
		    client-key: $state/pki/$1.key
		contexts:
		- name: berth-test
		  context: {cluster: berth-test, user: $1}
		current-context: berth-test
	EOF
}

start() {
	[ "$(id -u)" = 0 ] || die "start needs root (links, mounts, containerd)"
	complete || die "no complete cache in $cache: run $0 build first"
	if [ -e "$statefile" ]; then
		# one whose processes all died (its test was killed, the machine
		# rebooted) is cleaned up; a live one is left alone
		if running; then
			die "a test cluster is running ($statefile): $0 stop first"
		fi
		log "cleaning up a test cluster whose processes are gone"
		(stop)
	fi
	if ip link show "$NODE_LINK" >/dev/null 2>&1 || ip link show "$POD_BRIDGE" >/dev/null 2>&1; then
		die "link $NODE_LINK or $POD_BRIDGE exists: another test cluster, or one not stopped"
	fi
	local t0 bin=$cache/bin
	t0=$(date +%s%N)
	state=$(mktemp -d /tmp/berth-k8s.XXXXXX)
	chmod 755 "$state"
	mkdir -p "$state/log" "$state/pid" "$state/made"
	# what exists before, so that stop removes only what start made
	[ -e "$CNI_CACHE" ] || touch "$state/made/cni-cache"
	[ -e "$CONTAINER_LOGS" ] || touch "$state/made/container-logs"
	[ -e "$SHIM_SOCKETS" ] || touch "$state/made/shim-sockets"
	[ -e "$DEVICE_PLUGINS" ] || touch "$state/made/device-plugins"
	# containerd puts pods in a cgroup k8s.io of each hierarchy
	local d
	for d in /sys/fs/cgroup/*/; do
		[ -e "${d}k8s.io" ] || echo "${d}k8s.io" >>"$state/made/cgroups"
	done
	cat /proc/sys/net/ipv4/ip_forward >"$state/made/ip_forward"
	# kube-proxy's tables
	local fam
	for fam in ip ip6; do
		if nft list table "$fam" kube-proxy >/dev/null 2>&1; then
			rm -rf "$state"
			die "an nftables table $fam kube-proxy exists: another kube-proxy runs here"
		fi
	done
	printf 'STATE=%s\n' "$state" >"$statefile"
	trap 'log "start failed; logs in $state/log"; tail -n 20 "$state"/log/*.log >&2 || true; stop; exit 1' ERR

	ip link add "$NODE_LINK" type bridge
	ip addr add "$NODE_IP/32" dev "$NODE_LINK"
	ip link set "$NODE_LINK" up
	# beside a Docker Engine, the filter table's FORWARD policy is DROP and
	# br_netfilter hands even bridged frames to it: pod to pod (and to a
	# Service's endpoints) would be dropped. Accept the pod bridge's own
	# traffic, ahead of Docker's rules, as berth does for its networks
	# (only where such a chain exists: making one would leave a table)
	if command -v iptables >/dev/null && nft list chain ip filter FORWARD >/dev/null 2>&1; then
		iptables -w -I FORWARD 1 -i "$POD_BRIDGE" -m comment --comment berth-k8s-test -j ACCEPT
		iptables -w -I FORWARD 1 -o "$POD_BRIDGE" -m comment --comment berth-k8s-test -j ACCEPT
		touch "$state/made/forward-rules"
	fi

	certs
	local etcd_port peer_port api_port kubelet_port reg_port proxy_health proxy_metrics
	free_port etcd_port
	free_port peer_port
	free_port api_port
	free_port kubelet_port
	free_port reg_port
	free_port proxy_health
	free_port proxy_metrics
	local kc
	for kc in admin controller-manager scheduler kubelet; do kubeconfig "$kc" "$api_port"; done

	run etcd "$bin/etcd" --name berth-test --data-dir "$state/etcd" \
		--listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
		--listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
		--initial-cluster "berth-test=http://127.0.0.1:$peer_port" --log-level warn

	# the registry the tests push to and containerd pulls from
	mkdir -p "$state/registry"
	cat >"$state/registry/config.yml" <<-EOF
		version: 0.1
		log:
		  level: error
		  accesslog:
		    disabled: true
		storage:
		  filesystem:
		    rootdirectory: $state/registry/data
		  delete:
		    enabled: true
		http:
		  addr: 127.0.0.1:$reg_port
	EOF
	run registry /usr/bin/docker-registry serve "$state/registry/config.yml"

	local p=$state/pki
	run kube-apiserver "$bin/kube-apiserver" \
		--etcd-servers "http://127.0.0.1:$etcd_port" \
		--bind-address 127.0.0.1 --secure-port "$api_port" --advertise-address "$NODE_IP" \
		--tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" \
		--client-ca-file "$p/ca.crt" \
		--kubelet-client-certificate "$p/apiserver-kubelet.crt" --kubelet-client-key "$p/apiserver-kubelet.key" \
		--kubelet-preferred-address-types InternalIP \
		--service-cluster-ip-range "$SERVICE_RANGE" \
		--service-account-issuer https://kubernetes.default.svc \
		--service-account-key-file "$p/sa.pub" --service-account-signing-key-file "$p/sa.key" \
		--authorization-mode Node,RBAC --allow-privileged=true --profiling=false

	# containerd with its own socket, root and state, beside any other
	mkdir -p "$state/containerd" "$state/cni/net.d" "$state/certs.d/127.0.0.1:$reg_port" "$state/certs.d/_default"
	cat >"$state/containerd/config.toml" <<-EOF
		version = 2
		root = "$state/containerd/root"
		state = "$state/containerd/state"
		# opt would make /opt/containerd; the others are snapshotters not used
		disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]
		[grpc]
		  address = "$state/containerd/containerd.sock"
		[plugins."io.containerd.grpc.v1.cri"]
		  sandbox_image = "$PAUSE_IMAGE"
		  restrict_oom_score_adj = true
		  netns_mounts_under_state_dir = true
		  stream_server_address = "127.0.0.1"
		  stream_server_port = "0"
		  [plugins."io.containerd.grpc.v1.cri".cni]
		    bin_dir = "/usr/lib/cni"
		    conf_dir = "$state/cni/net.d"
		  [plugins."io.containerd.grpc.v1.cri".containerd]
		    snapshotter = "overlayfs"
		    default_runtime_name = "runc"
		    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
		      runtime_type = "io.containerd.runc.v2"
		      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
		        BinaryName = "$(command -v runc)"
		        Root = "$state/runc"
		        SystemdCgroup = false
		  [plugins."io.containerd.grpc.v1.cri".registry]
		    config_path = "$state/certs.d"
	EOF
	cat >"$state/certs.d/127.0.0.1:$reg_port/hosts.toml" <<-EOF
		server = "http://127.0.0.1:$reg_port"
		[host."http://127.0.0.1:$reg_port"]
		  capabilities = ["pull", "resolve"]
	EOF
	# every other registry (docker.io, ...) is the loopback one too: an
	# image named busybox:1 is pulled as $REGISTRY/library/busybox:1, and
	# no pull ever leaves the machine
	cp "$state/certs.d/127.0.0.1:$reg_port/hosts.toml" "$state/certs.d/_default/hosts.toml"
	cat >"$state/cni/net.d/10-berth-k8s.conflist" <<-EOF
		{
		  "cniVersion": "1.0.0",
		  "name": "$CNI_NET",
		  "plugins": [{
		    "type": "bridge",
		    "bridge": "$POD_BRIDGE",
		    "isGateway": true,
		    "ipMasq": false,
		    "hairpinMode": true,
		    "ipam": {
		      "type": "host-local",
		      "dataDir": "$state/cni/ipam",
		      "ranges": [[{"subnet": "$POD_SUBNET"}]],
		      "routes": [{"dst": "$CLUSTER_RANGE"}]
		    }
		  }]
		}
	EOF
	run containerd containerd --config "$state/containerd/config.toml"
	local sock=$state/containerd/containerd.sock
	wait_for containerd 30 ctr -a "$sock" version
	ctr -a "$sock" -n k8s.io images import "$cache/pause.oci.tar" >/dev/null

	wait_for kube-apiserver 60 "$bin/kubectl" --kubeconfig "$state/admin.kubeconfig" get --raw /readyz
	run kube-controller-manager "$bin/kube-controller-manager" \
		--kubeconfig "$state/controller-manager.kubeconfig" \
		--authentication-kubeconfig "$state/controller-manager.kubeconfig" \
		--authorization-kubeconfig "$state/controller-manager.kubeconfig" \
		--bind-address 127.0.0.1 --secure-port 0 --leader-elect=false \
		--use-service-account-credentials=true \
		--flex-volume-plugin-dir "$state/flex-volume-plugins" \
		--service-account-private-key-file "$p/sa.key" --root-ca-file "$p/ca.crt" \
		--cluster-signing-cert-file "$p/ca.crt" --cluster-signing-key-file "$p/ca.key"
	run kube-scheduler "$bin/kube-scheduler" \
		--kubeconfig "$state/scheduler.kubeconfig" \
		--authentication-kubeconfig "$state/scheduler.kubeconfig" \
		--authorization-kubeconfig "$state/scheduler.kubeconfig" \
		--bind-address 127.0.0.1 --secure-port 0 --leader-elect=false

	mkdir -p "$state/kubelet" "$state/pod-logs" "$state/sysctl"
	cat >"$state/kubelet/config.yaml" <<-EOF
		apiVersion: kubelet.config.k8s.io/v1beta1
		kind: KubeletConfiguration
		address: $NODE_IP
		port: $kubelet_port
		readOnlyPort: 0
		healthzPort: 0
		authentication:
		  anonymous: {enabled: false}
		  webhook: {enabled: false}
		  x509: {clientCAFile: $p/ca.crt}
		authorization: {mode: AlwaysAllow}
		containerRuntimeEndpoint: unix://$sock
		cgroupDriver: cgroupfs
		# this host has cgroup v1, which kubelet refuses by default
		failCgroupV1: false
		# no kubepods hierarchy on the host: pods go where containerd puts them
		cgroupsPerQOS: false
		enforceNodeAllocatable: []
		failSwapOn: false
		# root here lacks CAP_SYS_RESOURCE: no score below its parent's
		oomScoreAdj: 0
		podLogsDir: $state/pod-logs
		volumePluginDir: $state/kubelet/volume-plugins
		serializeImagePulls: false
		imageGCHighThresholdPercent: 100
		evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
		# the cluster's DNS: CoreDNS on the node's address
		clusterDNS: [$NODE_IP]
		clusterDomain: cluster.local
		# not the host's resolver, for pods outside the cluster's DNS
		resolvConf: $state/resolv.conf
	EOF
	printf 'nameserver 127.0.0.1\n' >"$state/resolv.conf"
	local kv binds=""
	for kv in "${kubelet_sysctls[@]}"; do
		mkdir -p "$state/sysctl/$(dirname "${kv%%=*}")"
		echo "${kv#*=}" >"$state/sysctl/${kv%%=*}"
		binds+="mount --bind $state/sysctl/${kv%%=*} /proc/sys/${kv%%=*} && "
	done
	# the kubelet's volume mounts must reach containerd, in the host's
	# mount namespace: its root dir is a shared mount
	mount --bind "$state/kubelet" "$state/kubelet"
	mount --make-rshared "$state/kubelet"
	# PATH without /usr/sbin: the kubelet then finds no iptables and adds
	# no chains of its own to the host's tables
	run kubelet unshare -m --propagation unchanged -- env PATH=/usr/bin:/bin sh -c "$binds exec \"\$0\" \"\$@\"" \
		"$bin/kubelet" --config "$state/kubelet/config.yaml" --kubeconfig "$state/kubelet.kubeconfig" \
		--root-dir "$state/kubelet" --cert-dir "$state/kubelet/pki" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP"

	# Services: ClusterIPs in nftables (its own tables, ip and ip6
	# kube-proxy), conntrack left as the host has it
	cat >"$state/kube-proxy.yaml" <<-EOF
		apiVersion: kubeproxy.config.k8s.io/v1alpha1
		kind: KubeProxyConfiguration
		mode: nftables
		clientConnection: {kubeconfig: $state/admin.kubeconfig}
		hostnameOverride: $NODE_NAME
		bindAddress: 127.0.0.1
		healthzBindAddress: 127.0.0.1:$proxy_health
		metricsBindAddress: 127.0.0.1:$proxy_metrics
		clusterCIDR: $POD_SUBNET
		nodePortAddresses: [$NODE_IP/32]
		conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s, udpTimeout: 0s, udpStreamTimeout: 0s}
	EOF
	run kube-proxy "$bin/kube-proxy" --config "$state/kube-proxy.yaml"
	# names of Services and pods, answered on the node's address; any
	# other name is NXDOMAIN, never asked of a resolver outside
	mkdir -p "$state/coredns"
	cat >"$state/coredns/Corefile" <<-EOF
		cluster.local:53 {
		  bind $NODE_IP
		  errors
		  kubernetes cluster.local {
		    kubeconfig $state/admin.kubeconfig berth-test
		    pods insecure
		  }
		}
		.:53 {
		  bind $NODE_IP
		  template ANY ANY {
		    rcode NXDOMAIN
		  }
		}
	EOF
	run coredns "$bin/coredns" -conf "$state/coredns/Corefile"

	local kubectl=("$bin/kubectl" --kubeconfig "$state/admin.kubeconfig")
	wait_for kubelet 60 "${kubectl[@]}" get node "$NODE_NAME"
	"${kubectl[@]}" wait --for=condition=Ready "node/$NODE_NAME" --timeout=60s >/dev/null
	# pods need the namespace's default service account, which the
	# controller manager makes
	wait_for kube-controller-manager 60 "${kubectl[@]}" -n default get serviceaccount default
	# and a pod runs: the sandbox image, CNI and the runtime work
	"${kubectl[@]}" -n default run berth-smoke --image="$PAUSE_IMAGE" --image-pull-policy=Never --restart=Never >/dev/null
	"${kubectl[@]}" -n default wait --for=condition=Ready pod/berth-smoke --timeout=60s >/dev/null
	"${kubectl[@]}" -n default delete pod berth-smoke --grace-period=1 --wait=false >/dev/null
	trap - ERR

	{
		printf 'KUBECONFIG=%s\n' "$state/admin.kubeconfig"
		printf 'KUBECTL=%s\n' "$bin/kubectl"
		printf 'REGISTRY=127.0.0.1:%s\n' "$reg_port"
		printf 'NODE_NAME=%s\n' "$NODE_NAME"
		printf 'PAUSE_IMAGE=%s\n' "$PAUSE_IMAGE"
	} >>"$statefile"
	local ms=$((($(date +%s%N) - t0) / 1000000))
	log "cluster up in $((ms / 1000)).$((ms % 1000 / 100))s"
	sed -n 's/^\(KUBECONFIG\|KUBECTL\|REGISTRY\|NODE_NAME\|PAUSE_IMAGE\)=/export \1=/p' "$statefile"
}

# ---------------------------------------------------------------- stop

# ours DIR PID: whether PID is a process of the cluster in DIR: each names
# its state dir in its arguments, which a pid reused since does not
ours() {
	{ tr '\0' ' ' <"/proc/$2/cmdline"; } 2>/dev/null | grep -qF -- "$1/"
}

# running: whether a process of the cluster in $statefile is alive
running() {
	local dir f
	dir=$(sed -n 's/^STATE=//p' "$statefile")
	[ -d "$dir/pid" ] || return 1
	for f in "$dir"/pid/*; do
		[ -e "$f" ] && ours "$dir" "$(cat "$f")" && return 0
	done
	return 1
}

# kill_pids NAME...: kills processes start started. KILL at once: the state
# they would save on TERM is thrown away, and the API server's graceful
# shutdown alone takes seconds. A pid file goes only with its process, so
# that a stop cut short can be run again.
kill_pids() {
	local name pid i left=()
	for name in "$@"; do
		[ -e "$state/pid/$name" ] || continue
		pid=$(cat "$state/pid/$name")
		if ours "$state" "$pid" && kill -9 "$pid" 2>/dev/null; then
			left+=("$name")
		else
			rm -f "$state/pid/$name"
		fi
	done
	for ((i = 0; i < 100 && ${#left[@]} > 0; i++)); do
		local still=()
		for name in "${left[@]}"; do
			if ours "$state" "$(cat "$state/pid/$name")"; then
				still+=("$name")
			else
				rm -f "$state/pid/$name"
			fi
		done
		left=(${still[@]+"${still[@]}"})
		[ ${#left[@]} -gt 0 ] && sleep 0.05
	done
}

stop() {
	trap - ERR
	# a stop cut short leaves half a cluster: let it finish
	trap '' INT HUP PIPE
	set +e
	[ -e "$statefile" ] || { log "no test cluster running"; return 0; }
	state=$(sed -n 's/^STATE=//p' "$statefile")
	case $state in /tmp/berth-k8s.*) ;; *) die "odd state dir '$state' in $statefile" ;; esac
	if [ ! -d "$state" ]; then
		rm -f "$statefile"
		return 0
	fi
	kill_pids kubelet kube-scheduler kube-controller-manager kube-proxy coredns
	local sock=$state/containerd/containerd.sock id ids=""
	if [ -e "$state/pid/containerd" ] && ctr -a "$sock" version >/dev/null 2>&1; then
		ids=$(ctr -a "$sock" -n k8s.io containers ls -q 2>/dev/null)
		printf '%s\n' $ids >>"$state/made/containers"
		# the pods' processes: containerd's shims end with their tasks
		for id in $(ctr -a "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
			ctr -a "$sock" -n k8s.io tasks kill -s SIGKILL "$id" >/dev/null 2>&1
		done
		for id in $(ctr -a "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
			ctr -a "$sock" -n k8s.io tasks delete -f "$id" >/dev/null 2>&1
		done
		for id in $(ctr -a "$sock" -n k8s.io containers ls -q 2>/dev/null); do
			ctr -a "$sock" -n k8s.io containers rm "$id" >/dev/null 2>&1
		done
	fi
	kill_pids containerd
	# containers whose containerd died before stop ran: their tasks' state
	# dirs name them, and each one's processes are in its cgroups
	local tasks=$state/containerd/state/io.containerd.runtime.v2.task/k8s.io d pid
	if [ -d "$tasks" ]; then
		for d in "$tasks"/*/; do
			[ -d "$d" ] && basename "$d" >>"$state/made/containers"
		done
	fi
	if [ -e "$state/made/containers" ]; then
		for id in $(sort -u "$state/made/containers"); do
			for d in /sys/fs/cgroup/*/k8s.io/"$id"; do
				[ -e "$d/cgroup.procs" ] || continue
				for pid in $(cat "$d/cgroup.procs"); do kill -9 "$pid" 2>/dev/null; done
			done
		done
	fi
	# a shim left (its task would not go, or containerd died first) was
	# started for this containerd: it names the socket in its arguments
	# (pgrep: the kernel's 15 characters of its name)
	for pid in $(pgrep containerd-shim 2>/dev/null); do
		if { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "-address $sock"; then
			kill -9 "$pid" 2>/dev/null
		fi
	done
	# and its socket, which a killed shim leaves: named by the hash of
	# containerd's socket, namespace and id
	if [ -e "$state/made/containers" ]; then
		for id in $(sort -u "$state/made/containers"); do
			rm -f "$SHIM_SOCKETS/s/$(printf '%s' "$sock/k8s.io/$id" | sha256sum | cut -c1-64)"
		done
	fi
	kill_pids kube-apiserver registry etcd

	# mounts: the kubelet's volumes, containerd's rootfs and netns, the
	# shared root dir itself; innermost first
	local m
	for m in $(awk -v s="$state" '$5 == s || index($5, s "/") == 1 {print $5}' /proc/self/mountinfo | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	for m in $(awk -v s="$state" '$5 == s || index($5, s "/") == 1 {print $5}' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null
	done

	local l
	for l in $(ip -o link show master "$POD_BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
		ip link del "$l" 2>/dev/null
	done
	ip link del "$POD_BRIDGE" 2>/dev/null
	ip link del "$NODE_LINK" 2>/dev/null
	# start refused to run beside another kube-proxy: these are its own
	nft delete table ip kube-proxy 2>/dev/null
	nft delete table ip6 kube-proxy 2>/dev/null

	# what the CNI library, the kubelet and the shims put outside the state dir
	# the CNI library's cached results name their pod's netns, under $state
	if [ -d "$CNI_CACHE/results" ]; then
		grep -lF -- "$state/" "$CNI_CACHE/results/"* 2>/dev/null | while read -r l; do rm -f "$l"; done
	fi
	if [ -e "$state/made/cni-cache" ]; then
		rmdir "$CNI_CACHE/results" "$CNI_CACHE" 2>/dev/null
	fi
	if [ -d "$CONTAINER_LOGS" ]; then
		for l in "$CONTAINER_LOGS"/*; do
			[ -L "$l" ] && case $(readlink "$l") in "$state"/*) rm -f "$l" ;; esac
		done
		[ -e "$state/made/container-logs" ] && rmdir "$CONTAINER_LOGS" 2>/dev/null
	fi
	if [ -e "$state/made/device-plugins" ] && [ -d "$DEVICE_PLUGINS" ]; then
		rm -f "$DEVICE_PLUGINS/device-plugins/kubelet.sock"
		find "$DEVICE_PLUGINS" -depth -type d -empty -delete 2>/dev/null
	fi
	if [ -e "$state/made/shim-sockets" ] && [ -d "$SHIM_SOCKETS" ]; then
		find "$SHIM_SOCKETS" -depth -type d -empty -delete 2>/dev/null
	fi
	# the pods' cgroups, which runc removes with each task; one left when a
	# task would not go is named after its container
	[ -e "$state/made/containers" ] && ids=$(sort -u "$state/made/containers")
	for id in $ids; do
		for d in $(find /sys/fs/cgroup -maxdepth 4 -type d -name "$id" 2>/dev/null); do
			find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
		done
	done
	if [ -e "$state/made/cgroups" ]; then
		while read -r d; do rmdir "$d" 2>/dev/null; done <"$state/made/cgroups"
	fi
	if [ -e "$state/made/forward-rules" ]; then
		local dir
		for dir in -i -o; do
			while iptables -w -D FORWARD "$dir" "$POD_BRIDGE" -m comment --comment berth-k8s-test -j ACCEPT 2>/dev/null; do :; done
		done
	fi
	[ -e "$state/made/ip_forward" ] && cat "$state/made/ip_forward" >/proc/sys/net/ipv4/ip_forward

	rm -rf "$state"
	rm -f "$statefile"
	log "stopped"
}

status() {
	[ -e "$statefile" ] || { echo "not running"; return 1; }
	# shellcheck disable=SC1090
	. "$statefile"
	[ -n "${KUBECONFIG:-}" ] || { echo "starting or failed (state $STATE)"; return 1; }
	"$KUBECTL" --kubeconfig "$KUBECONFIG" get nodes -o wide
}

case ${1:-} in
build) build ;;
built) complete ;;
start) start ;;
stop) stop ;;
status) status ;;
*)
	echo "usage: $0 build|built|start|stop|status" >&2
	exit 2
	;;
esac
