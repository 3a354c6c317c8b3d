#!/usr/bin/env bash
# Runs Docker Engine beside berth for the tests, as most berth users have it:
#   scripts/docker-beside.sh start   starts dockerd if none runs (and Debian's
#                                    docker.io is installed), and waits for it
#   scripts/docker-beside.sh stop    stops the dockerd that start started and
#                                    removes what it left: its bridge, its
#                                    iptables chains and the FORWARD policy
#                                    it set (the host's tables as they were)
# A Docker Engine that was running already is used as it is and never
# stopped. Everything of the one started here lives under $state.
set -euo pipefail

state=/run/berth-test-docker
sock="$state/docker.sock"

running() {
	# any Docker Engine: the system's socket, or ours
	for s in /var/run/docker.sock "$sock"; do
		[ -S "$s" ] && docker -H "unix://$s" version >/dev/null 2>&1 && return 0
	done
	return 1
}

case "${1:-}" in
start)
	if ! command -v dockerd >/dev/null 2>&1; then
		echo "docker-beside: dockerd is not installed (Debian's docker.io); the tests run without Docker Engine" >&2
		exit 0
	fi
	if running; then
		echo "docker-beside: a Docker Engine runs already; the tests run beside it" >&2
		exit 0
	fi
	mkdir -p "$state"
	# the host's ip tables before Docker: stop puts them back
	iptables-nft-save >"$state/iptables.save" 2>/dev/null || true
	nft list tables ip 2>/dev/null | awk '{print $3}' >"$state/tables.before" || true
	# Docker sets FORWARD's policy to DROP when it turns IPv4 forwarding
	# on itself, as on a fresh machine: so it does here, whatever an
	# earlier run left; stop puts the setting back
	cat /proc/sys/net/ipv4/ip_forward >"$state/ip_forward"
	echo 0 >/proc/sys/net/ipv4/ip_forward
	dockerd --data-root "$state/data" --exec-root "$state/exec" --pidfile "$state/dockerd.pid" \
		-H "unix://$sock" >"$state/dockerd.log" 2>&1 &
	echo $! >"$state/started.pid"
	for _ in $(seq 120); do
		if docker -H "unix://$sock" version >/dev/null 2>&1; then
			echo "docker-beside: started dockerd $(dockerd --version | awk '{print $3}' | tr -d ,) (pid $(cat "$state/started.pid"))" >&2
			# something else on the host (another berth, another test
			# run) may have turned forwarding on before Docker looked:
			# then the policy is set as Docker sets it on a fresh
			# machine; stop restores the saved tables
			if ! iptables -S FORWARD | head -1 | grep -q DROP; then
				echo "docker-beside: forwarding was on before dockerd started; FORWARD's policy set to DROP as Docker sets it on a fresh machine" >&2
				iptables -P FORWARD DROP
			fi
			iptables -S FORWARD | head -1 >&2
			exit 0
		fi
		sleep 0.5
	done
	echo "docker-beside: dockerd did not come up; its log:" >&2
	tail -20 "$state/dockerd.log" >&2
	bash "$0" stop
	exit 1
	;;
stop)
	[ -f "$state/started.pid" ] || exit 0
	pid=$(cat "$state/started.pid")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for _ in $(seq 60); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
	fi
	ip link del docker0 2>/dev/null || true
	# Docker's chains, jumps and FORWARD policy go with the tables as they
	# were; tables that Docker made go whole
	if [ -s "$state/iptables.save" ]; then
		iptables-nft-restore <"$state/iptables.save"
	fi
	for t in $(nft list tables ip 2>/dev/null | awk '{print $3}'); do
		grep -qx "$t" "$state/tables.before" 2>/dev/null || nft delete table ip "$t"
	done
	for m in $(awk -v s="$state" '$5 ~ "^"s {print $5}' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	if [ -f "$state/ip_forward" ]; then cat "$state/ip_forward" >/proc/sys/net/ipv4/ip_forward; fi
	rm -rf "$state"
	echo "docker-beside: stopped the dockerd it started, and removed its bridge and chains" >&2
	;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
