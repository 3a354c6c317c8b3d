#!/usr/bin/env bash
# Times two builds of berth against each other, command by command, each
# run right after the other's so that the machine's load drifts on both
# alike (a benchmark run of one tree, then the other, does not: on a
# shared 2-core VM, runs minutes apart differ by 30%). Each directory holds
# berth, berth-monitor, berth-shim, berth-keeper and berth-init, as `make
# build` puts them.
#
#   scripts/ab-bench.sh DIR_A DIR_B [N]
#
# prints the min, quartiles and median in ms of: run --rm (network none),
# up -d and down -t 0 of a one-service project (network_mode none), and a
# down with nothing to do; N rounds (default 40). Needs root and
# busybox-static; leaves nothing behind.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 DIR_A DIR_B [N]" >&2; exit 2; }
a=$(cd "$1" && pwd) b=$(cd "$2" && pwd) n=${3:-40}
work=$(mktemp -d /tmp/berth-ab.XXXXXX)
cleanup() {
	for v in a b; do
		bin=${!v}
		(cd "$work/p" && "$bin/berth" --root "$work/root-$v" down -t 0 >/dev/null 2>&1) || true
		"$bin/berth" --root "$work/root-$v" system prune -af >/dev/null 2>&1 || true
		rm -rf "/run/berth/$(printf %s "$work/root-$v" | sha256sum | cut -c1-12)"
	done
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/p"
cp /bin/busybox "$work/rootfs/bin/"
for c in sh true sleep; do ln -s busybox "$work/rootfs/bin/$c"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$work/rootfs/etc/passwd"
printf 'name: ab\nservices:\n  a:\n    image: bb:1\n    command: ["sleep", "1000"]\n    network_mode: none\n' >"$work/p/compose.yaml"
for v in a b; do
	bin=${!v}
	"$bin/berth" --root "$work/root-$v" image import -c 'CMD ["sh"]' "$work/rootfs" bb:1 >/dev/null
done
ms() { echo $(( ($2 - $1) / 10000 )); }
for ((i = 0; i < n; i++)); do
	for v in a b; do
		bin=${!v} root=$work/root-$v
		t0=$(date +%s%N); "$bin/berth" --root "$root" container run --rm --network none bb:1 true
		t1=$(date +%s%N); (cd "$work/p" && "$bin/berth" --root "$root" up -d >/dev/null 2>&1)
		t2=$(date +%s%N); (cd "$work/p" && "$bin/berth" --root "$root" down -t 0 >/dev/null 2>&1)
		t3=$(date +%s%N); (cd "$work/p" && "$bin/berth" --root "$root" down -t 0 >/dev/null 2>&1)
		t4=$(date +%s%N)
		echo "$v $(ms $t0 $t1) $(ms $t1 $t2) $(ms $t2 $t3) $(ms $t3 $t4)"
	done
done >"$work/times"
col=(x "run --rm" "up -d, 1" "down, 1" "empty down")
for c in 1 2 3 4; do
	for v in a b; do
		grep "^$v " "$work/times" | awk -v c=$((c + 1)) '{print $c / 100}' | sort -n |
			awk -v what="${col[$c]}" -v who="${!v}" '{x[NR] = $1} END {printf "%-10s %-40s min %6.1f  p25 %6.1f  median %6.1f  p75 %6.1f\n", what, who, x[1], x[int(NR/4) + 1], x[int(NR/2) + 1], x[int(3 * NR / 4) + 1]}'
	done
done
