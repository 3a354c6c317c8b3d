#!/usr/bin/env bash
# Installs what the tests need, then runs them: `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
make test
