#!/usr/bin/env bash
# The main job: builds the examples and runs them, showing what leakguard traces and reports.
# Usage: scripts/run-examples.sh    (installs missing packages first; BUILD_DIR=build by default)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}

scripts/install-deps.sh >&2
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target top_allocations find_a_leak gtest_leak_check catch2_leak_check leakguard_cli >/dev/null
# The suites write run files here, which `leakguard merge` turns into one report at the end.
runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT

echo "== examples/top_allocations.cpp: where the memory of a small workload came from" >&2
"$build/examples/top_allocations"
echo >&2
echo "== examples/find_a_leak.cpp: a leak caught by repeated calls, and its report" >&2
"$build/examples/find_a_leak"
echo >&2
# The two suites leak once on purpose, so each must fail exactly so; anything else (a crash, a
# false failure) is an error.
expect_one_failure() {
  local example=$1
  set +e
  LEAKGUARD_REPORT_DIR="$runs" "$build/examples/$example" >&2
  local status=$?
  set -e
  if [ "$status" -ne 1 ]; then
    echo "run-examples: $example exited with $status, expected 1 (one leaking test)" >&2
    exit 1
  fi
}
echo "== examples/gtest_leak_check.cpp: a GoogleTest suite where the leaking test fails, at its line" >&2
expect_one_failure gtest_leak_check
echo >&2
echo "== examples/catch2_leak_check.cpp: the same bug in a Catch2 suite; its section fails, at its line" >&2
expect_one_failure catch2_leak_check
echo >&2
echo "== leakguard merge: the run files both suites wrote (LEAKGUARD_REPORT_DIR), as one report of the run" >&2
set +e
"$build/src/leakguard" merge "$runs" >&2
status=$?
set -e
if [ "$status" -ne 1 ]; then
  echo "run-examples: leakguard merge exited with $status, expected 1 (the two leaking tests)" >&2
  exit 1
fi
