#!/usr/bin/env bash
# The one command that sets up a fresh machine and proves the project: installs the Debian
# packages that are missing, builds everything with -j2 and runs every test through ctest, then
# builds the pure parts (no interposers) under ASan/UBSan and runs their tests again.
# Usage: scripts/test.sh            (BUILD_DIR=build by default; the sanitizer build is $BUILD_DIR-asan)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}

scripts/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j2
ctest --test-dir "$build" --output-on-failure -j2

cmake -S . -B "$build-asan" -DCMAKE_BUILD_TYPE=Debug -DLEAKGUARD_SANITIZE=ON \
  -DLEAKGUARD_BUILD_EXAMPLES=OFF -DLEAKGUARD_BUILD_BENCH=OFF
cmake --build "$build-asan" -j2 --target pure_tests
ctest --test-dir "$build-asan" --output-on-failure -j2 -L pure
