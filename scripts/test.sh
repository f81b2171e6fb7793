#!/usr/bin/env bash
# The one command that sets up a fresh machine and proves the project: installs the Debian
# packages that are missing, builds everything with -j2 and runs every test through ctest.
# Usage: scripts/test.sh            (BUILD_DIR=build by default)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}

scripts/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j2
ctest --test-dir "$build" --output-on-failure -j2
