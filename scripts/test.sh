#!/usr/bin/env bash
# Installs what the tests need, then runs them: `make test`, beside a real
# Docker Engine (Debian's docker.io, started here when none runs and
# stopped again, with its bridge and chains, at the end), as most berth
# users have one. BERTH_TEST_DOCKER=0 runs them without it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
if [ "${BERTH_TEST_DOCKER:-1}" != 0 ]; then
	bash scripts/docker-beside.sh start
	trap 'bash scripts/docker-beside.sh stop' EXIT
fi
make test
