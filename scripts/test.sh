#!/usr/bin/env bash
# Installs what the tests need, then runs them: `make test`, beside a real
# Docker Engine (Debian's docker.io, started here when none runs and
# stopped again, with its bridge and chains, at the end), as most berth
# users have one. BERTH_TEST_DOCKER=0 runs them without it. Then a few
# tests again on a cgroup v2 kernel (scripts/vm-test.sh: a qemu guest),
# where most users are while this host has v1: limits, the v1-only
# settings dropped, --privileged's cgroups, and monitors leaving their
# caller's cgroup. BERTH_TEST_CGROUP2=0 leaves them out. BuildKit itself
# is built first (once; cached outside the tree): the image builder's
# tests compare berth's images with its. So is a single-node Kubernetes
# (scripts/k8s-test-cluster.sh, about 20-30 minutes the first time), which
# integration/k8s starts per test: BERTH_TEST_K8S=1 makes a missing piece
# of it a failure there, not a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
if [ "${BERTH_TEST_DOCKER:-1}" != 0 ]; then
	bash scripts/docker-beside.sh start
	trap 'bash scripts/docker-beside.sh stop' EXIT
fi
bash scripts/buildkit-ref.sh build >/dev/null
bash scripts/k8s-test-cluster.sh build
export BERTH_TEST_K8S=1
make test
if [ "${BERTH_TEST_CGROUP2:-1}" != 0 ]; then
	bash scripts/vm-test.sh --timeout 1200 './integration=^(TestCgroupV2|TestCgroupV2DropsV1Settings|TestPrivilegedCgroup|TestCallerCgroupKilled)$'
fi
