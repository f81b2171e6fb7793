#!/usr/bin/env bash
# The main job: builds the examples and runs them, showing what leakguard traces and reports.
# Usage: scripts/run-examples.sh    (installs missing packages first; BUILD_DIR=build by default)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}

scripts/install-deps.sh >&2
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target top_allocations find_a_leak >/dev/null

echo "== examples/top_allocations.cpp: where the memory of a small workload came from" >&2
"$build/examples/top_allocations"
echo >&2
echo "== examples/find_a_leak.cpp: a leak caught by repeated calls, and its report" >&2
"$build/examples/find_a_leak"
