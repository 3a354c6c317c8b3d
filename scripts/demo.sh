#!/usr/bin/env bash
# Installs what berth needs, builds it, and runs the demo: `make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
make demo
