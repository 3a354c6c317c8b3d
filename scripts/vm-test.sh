#!/usr/bin/env bash
# Runs some of berth's tests on a cgroup v2 kernel, whatever the host runs:
# in a small Debian bookworm guest (Debian's 6.1 kernel booted with
# cgroup_no_v1=all, so the guest has the v2 hierarchy alone, as most users'
# machines do) under qemu with software emulation, no KVM needed and no
# network device given.
#
#   scripts/vm-test.sh [-run REGEXP] [--systemd] [--timeout SECONDS] [PACKAGE[=REGEXP]...]
#
# PACKAGEs are Go package directories (./runtime, ./integration); each is
# compiled here (go test -c) as are berth's binaries, since the guest has no
# Go toolchain, and run inside from its source directory, so testdata and
# relative paths work as under go test. -run is passed to every package
# that names no REGEXP of its own.
# --systemd boots the guest with systemd as PID 1 and runs the tests from a
# unit; the default is a small init of this script's own as PID 1. qemu is
# killed after --timeout seconds (BERTH_VM_TIMEOUT, default an hour).
#
# The guest's root filesystem, kernel and initramfs are built once, as root,
# with debootstrap from the host's Debian mirror, and cached in
# $BERTH_VM_CACHE (/var/cache/berth-vm), keyed by a hash of what goes into
# them; a later run only makes a small disk of the test binaries and boots.
# The root disk is used copy-on-write (snapshot=on): a run never changes the
# cache. The exit status is the tests' (1 when any package failed, 2 when the
# guest gave no result in time).
{
# (in braces: bash reads all of it before it runs any, so editing the
# script while it runs cannot change a run)
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/.."

run=''
systemd=0
timeout=${BERTH_VM_TIMEOUT:-3600}
pkgs=()
while [ $# -gt 0 ]; do
	case $1 in
	-run | --run) run=$2; shift 2 ;;
	--systemd) systemd=1; shift ;;
	--timeout) timeout=$2; shift 2 ;;
	-h | --help) sed -n '2,/^{/p' "$self" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "vm-test: unknown option $1" >&2; exit 2 ;;
	*) pkgs+=("$1"); shift ;;
	esac
done
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./runtime ./container ./integration)

if [ "$(id -u)" != 0 ]; then
	echo "vm-test: run as root (debootstrap, mkfs and the guest's image need it)" >&2
	exit 2
fi

# what the host needs: debootstrap builds the guest, qemu boots it, e2fsprogs
# makes and reads its disks
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v mkfs.ext4 >/dev/null && command -v debugfs >/dev/null || need+=(e2fsprogs)
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
[ -x /usr/local/go/bin/go ] && export PATH="/usr/local/go/bin:$PATH"

# The host's Debian mirror, as apt names it (deb822 or one-line sources).
mirror=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}

# What the tests need at run time in the guest: busybox-static is the test
# image's base, docker-registry the loopback registry of the image tests,
# libseccomp2 the seccomp filter's library, util-linux's unshare, script and
# nsenter, iproute2 for looking at links; systemd-sysv and dbus are for
# --systemd (and libcontainer's systemd driver). nftables is the kernel's:
# Debian's kernel has it, and berth speaks netlink, not nft.
guest_packages=(linux-image-amd64 initramfs-tools busybox-static docker-registry libseccomp2 util-linux bsdextrautils iproute2 procps kmod e2fsprogs systemd-sysv dbus)

# PID 1 of the guest without --systemd: the file systems an init mounts,
# the cgroup v2 hierarchy alone at /sys/fs/cgroup, loopback up, then the
# test disk's run.sh under berth-init, which reaps the orphans (monitors
# that outlive their berth) as an init must.
read -r -d '' guest_init <<'EOF' || true
#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -o remount,rw /
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t mqueue mqueue /dev/mqueue
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
mount -t tmpfs -o mode=755 run /run
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
hostname berth-vm
ip link set lo up
mkdir -p /mnt/berth-test
mount /dev/vdb /mnt/berth-test
exec /mnt/berth-test/bin/berth-init -- /bin/sh /mnt/berth-test/run.sh </dev/null >/dev/console 2>&1
EOF

# the unit of --systemd: the same run.sh, then power off
read -r -d '' guest_unit <<'EOF' || true
[Unit]
Description=berth's tests
After=local-fs.target
RequiresMountsFor=/mnt/berth-test
SuccessAction=poweroff
FailureAction=poweroff

[Service]
Type=oneshot
Environment=BERTH_VM_SYSTEMD=1
ExecStart=/bin/sh /mnt/berth-test/run.sh
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
EOF

cache=${BERTH_VM_CACHE:-/var/cache/berth-vm}
key=$( { echo "$mirror"; echo "${guest_packages[*]}"; echo "$guest_init"; echo "$guest_unit"; sed -n '/^build_guest()/,/^}/{/^\s*#/!p}' "$self"; } | sha256sum | cut -c1-16)
image=$cache/$key

build_guest() {
	local dir=$1 root=$1/root
	# debootstrap resolves the packages' dependencies itself; policy-rc.d
	# keeps their services (docker-registry's) from starting in the chroot
	debootstrap --variant=minbase --include=ca-certificates bookworm "$root" "$mirror"
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod +x "$root/usr/sbin/policy-rc.d"
	mount -t proc proc "$root/proc"
	# (unmounted on a failure too: set -e ends the script)
	trap "umount '$root/proc' 2>/dev/null || true" EXIT
	# the initramfs needs virtio's PCI and block drivers and ext4 to find
	# the root disk: those alone (with what they depend on), rather than
	# Debian's MODULES=most, which takes minutes to pack, twice
	mkdir -p "$root/etc/initramfs-tools/conf.d" "$root/etc/initramfs-tools/hooks"
	echo MODULES=list >"$root/etc/initramfs-tools/conf.d/berth-vm"
	printf '#!/bin/sh\n[ "$1" = prereqs ] && exit 0\n. /usr/share/initramfs-tools/hook-functions\nmanual_add_modules virtio_pci virtio_blk ext4\n' >"$root/etc/initramfs-tools/hooks/berth-vm"
	chmod +x "$root/etc/initramfs-tools/hooks/berth-vm"
	chroot "$root" apt-get update -q
	chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${guest_packages[@]}"
	chroot "$root" apt-get clean
	umount "$root/proc"
	rm -f "$root/usr/sbin/policy-rc.d"
	rm -rf "$root"/var/lib/apt/lists/*
	echo berth-vm >"$root/etc/hostname"
	printf '/dev/vda / ext4 rw 0 1\n/dev/vdb /mnt/berth-test ext4 rw 0 0\n' >"$root/etc/fstab"
	mkdir -p "$root/mnt/berth-test"
	printf '%s\n' "$guest_init" >"$root/usr/local/sbin/berth-vm-init"
	chmod +x "$root/usr/local/sbin/berth-vm-init"
	printf '%s\n' "$guest_unit" >"$root/etc/systemd/system/berth-vm-test.service"
	ln -sf /etc/systemd/system/berth-vm-test.service "$root/etc/systemd/system/multi-user.target.wants/berth-vm-test.service"
	# the tests run their own registries: not the package's service
	rm -f "$root/etc/systemd/system/multi-user.target.wants/docker-registry.service"
	passwd -R "$root" -d root >/dev/null
	cp "$root"/boot/vmlinuz-* "$dir/vmlinuz"
	cp "$root"/boot/initrd.img-* "$dir/initrd.img"
	mkfs.ext4 -q -F -L berth-root -d "$root" "$dir/root.img" 4G
	rm -rf "$root"
}

start=$(date +%s)
if [ ! -f "$image/root.img" ]; then
	echo "vm-test: building the guest in $image (once; debootstrap from $mirror)" >&2
	rm -rf "$image.tmp"
	mkdir -p "$image.tmp"
	build_guest "$image.tmp"
	mv "$image.tmp" "$image"
	# guests built from an older recipe are not used again
	find "$cache" -mindepth 1 -maxdepth 1 ! -name "$key" -exec rm -rf {} +
	echo "vm-test: guest built in $(($(date +%s) - start))s" >&2
fi

work=$(mktemp -d /var/tmp/berth-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
disk=$work/disk
mkdir -p "$disk/bin" "$disk/tests" "$disk/src" "$disk/results"

# the binaries as make build makes them, and each package's test binary
built=$(date +%s)
go build -tags seccomp -o "$disk/bin/berth" ./cmd/berth
go build -tags seccomp -o "$disk/bin/berth-monitor" ./cmd/berth-monitor
CGO_ENABLED=0 go build -o "$disk/bin/berth-shim" ./cmd/berth-shim
CGO_ENABLED=0 go build -o "$disk/bin/berth-init" ./cmd/berth-init
CGO_ENABLED=0 go build -o "$disk/bin/berth-keeper" ./cmd/berth-keeper
CGO_ENABLED=0 go build -o "$disk/bin/berth-build" ./cmd/berth-build
names=() runs=()
for arg in "${pkgs[@]}"; do
	p=${arg%%=*}
	p=./${p#./}
	# PACKAGE=REGEXP runs that package's tests matching REGEXP
	pat=$run
	[ "$arg" = "${arg#*=}" ] || pat=${arg#*=}
	name=$(echo "${p#./}" | tr / _)
	go test -c -tags seccomp -o "$disk/tests/$name.test" "$p"
	names+=("${p#./}")
	runs+=("$pat")
done
# the source tree, for testdata and the tests' relative paths
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$disk/src"
echo "vm-test: compiled in $(($(date +%s) - built))s" >&2

{
	echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/var/tmp'
	echo 'export BERTH_TEST_BINARIES=/mnt/berth-test/bin'
	for i in "${!names[@]}"; do
		printf 'pkg_%s=%q\n' "$i" "${names[$i]}"
		printf 'run_%s=%q\n' "$i" "${runs[$i]}"
	done
	echo "count=${#names[@]}"
	cat <<'EOF'
out=/mnt/berth-test/results
say() { echo "$@" | tee -a $out/log; }
say "=== guest: Linux $(uname -r), /sys/fs/cgroup is $(stat -fc %T /sys/fs/cgroup), controllers: $(cat /sys/fs/cgroup/cgroup.controllers), PID 1: $(cat /proc/1/comm), $(nproc) CPUs, $(awk '/MemTotal/ {print $2 / 1024 " MB"}' /proc/meminfo)"
status=0
i=0
while [ $i -lt $count ]; do
	eval "p=\$pkg_$i run=\$run_$i"
	i=$((i + 1))
	name=$(echo "$p" | tr / _)
	t0=$(date +%s)
	say "=== $p${run:+ -run $run}"
	# on the console as it runs, and kept; sh has no pipefail: the status
	# goes through a file
	{ (cd /mnt/berth-test/src/$p && /mnt/berth-test/tests/$name.test -test.v -test.count=1 -test.timeout=55m ${run:+-test.run "$run"}); echo $? >$out/$name.code; } 2>&1 | tee $out/$name.log
	code=$(cat $out/$name.code)
	cat $out/$name.log >>$out/log
	if [ $code = 0 ]; then say "ok  	$p	$(($(date +%s) - t0))s"; else say "FAIL	$p	$(($(date +%s) - t0))s (exit $code)"; status=1; fi
done
echo $status >$out/status
sync
echo "=== berth-vm-test: done, status $status"
if [ -n "${BERTH_VM_SYSTEMD:-}" ]; then
	: # the unit's SuccessAction powers off
else
	umount /mnt/berth-test
	busybox poweroff -f
fi
EOF
} >"$disk/run.sh"

size=$(($(du -sm "$disk" | cut -f1) * 2 + 256))
mkfs.ext4 -q -F -L berth-test -d "$disk" "$work/test.img" "${size}M"
rm -rf "$disk"

cmdline="root=/dev/vda rw console=ttyS0 cgroup_no_v1=all panic=-1 quiet loglevel=4"
if [ $systemd = 1 ]; then
	cmdline="$cmdline init=/lib/systemd/systemd systemd.unified_cgroup_hierarchy=1 systemd.show_status=0"
else
	cmdline="$cmdline init=/usr/local/sbin/berth-vm-init"
fi
# KVM where the host gives it, with the host's CPU model: nested under
# another hypervisor, qemu's "max" model asks for MSRs (0x10a,
# ARCH_CAPABILITIES) that KVM refuses, and qemu aborts at once. Should KVM
# fail before the guest wrote anything, the run falls back to software
# emulation.
boot_guest() { # ACCEL CPU
	echo "vm-test: booting ($1, 2 CPUs, 3 GB; console in $work/console.log): ${pkgs[*]}${run:+ -run $run}" >&2
	booted=$(date +%s)
	set +e
	# timeout kills the qemu it started, and only that one
	timeout --kill-after=30 "$timeout" qemu-system-x86_64 \
		-accel "$1" -cpu "$2" -smp 2 -m 3G \
		-display none -monitor none -serial "file:$work/console.log" -nic none -no-reboot \
		-kernel "$image/vmlinuz" -initrd "$image/initrd.img" -append "$cmdline" \
		-drive "file=$image/root.img,format=raw,if=virtio,snapshot=on" \
		-drive "file=$work/test.img,format=raw,if=virtio"
	qemu=$?
	set -e
}
if [ -w /dev/kvm ]; then
	boot_guest kvm host
	if [ "$qemu" != 0 ] && [ ! -s "$work/console.log" ]; then
		echo "vm-test: qemu with KVM failed (exit $qemu) before the guest started; software emulation instead" >&2
		boot_guest tcg max
	fi
else
	boot_guest tcg max
fi
echo "vm-test: guest ran $(($(date +%s) - booted))s (qemu exit $qemu); $(($(date +%s) - start))s in all" >&2

debugfs -R "dump /results/log $work/log" "$work/test.img" >/dev/null 2>&1
debugfs -R "dump /results/status $work/status" "$work/test.img" >/dev/null 2>&1
if [ ! -s "$work/status" ]; then
	echo "vm-test: the guest gave no result (timeout ${timeout}s?); its console:" >&2
	[ -f "$work/log" ] && cat "$work/log"
	tail -n 100 "$work/console.log" >&2
	exit 2
fi
cat "$work/log"
printf 'vm-test: %s passed, %s failed, %s skipped\n' \
	"$(grep -c -- '^\s*--- PASS' "$work/log")" "$(grep -c -- '^\s*--- FAIL' "$work/log")" "$(grep -c -- '^\s*--- SKIP' "$work/log")" >&2
exit "$(cat "$work/status")"
}
