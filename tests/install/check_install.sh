#!/usr/bin/env bash
# Installs the build into a scratch prefix, builds tests/install/consumer against it with
# find_package(leakguard), and checks what the consumer's programs print.
# Usage: check_install.sh <leakguard build dir> <consumer source dir> <scratch dir>
set -euo pipefail
build=$1 consumer=$2 scratch=$3
rm -rf "$scratch" && mkdir -p "$scratch"
cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
cmake -S "$consumer" -B "$scratch/consumer" -DCMAKE_PREFIX_PATH="$scratch/prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$scratch/consumer" -j2 >/dev/null

fail() { echo "check_install: $*" >&2; exit 1; }
out=$("$scratch/consumer/core_only")
[[ $out == *"core_only.cpp:10: size=4120 B (+4120 B), count=2 (+2)"* ]] || fail "core_only printed: $out"
# The DWARF reader is installed beside the libraries; named by the environment, the installed one
# serves (the defaults would also find this build's own copy).
module=$(find "$scratch/prefix" -name libleakguard_symbolize.so | head -1)
[ -n "$module" ] || fail "libleakguard_symbolize.so was not installed"
out=$(LEAKGUARD_SYMBOLIZER="$module" "$scratch/consumer/core_only" 2>"$scratch/core_only.err")
[[ $out == *"core_only.cpp:10: size=4120 B (+4120 B), count=2 (+2)"* ]] || fail "core_only with $module printed: $out"
[ ! -s "$scratch/core_only.err" ] || fail "core_only with $module said: $(cat "$scratch/core_only.err")"

set +e
gtest_out=$(env -u LEAKGUARD_START -u LEAKGUARD_MODE "$scratch/consumer/leaky_tests" 2>&1)
status=$?
set -e
[ "$status" -eq 1 ] || fail "leaky_tests exited with $status, expected 1: $gtest_out"
[[ $gtest_out == *"leaky_tests.cpp:11: Failure"*"leakguard: leak: +256.0 KiB in +1 block"*"[  FAILED  ] Consumer.Leaks"* ]] ||
  fail "leaky_tests printed: $gtest_out"
[[ $gtest_out == *"[  PASSED  ] 1 test."* ]] || fail "Consumer.CleansUp did not pass: $gtest_out"

checked="core, GoogleTest plugin"
if [ -x "$scratch/consumer/leaky_cases" ]; then
  checked="$checked, Catch2 plugin"
  set +e
  catch_out=$(env -u LEAKGUARD_START -u LEAKGUARD_MODE "$scratch/consumer/leaky_cases" 2>&1)
  set -e
  [[ $catch_out == *"leaky_cases.cpp:9"*"leakguard: leak: +256.0 KiB in +1 block"*"test cases: 2 | 1 passed | 1 failed"* ]] ||
    fail "leaky_cases printed: $catch_out"
fi

"$scratch/prefix/bin/leakguard" --help | grep -q "merge" || fail "the installed leakguard command does not run"
rm -rf "$scratch"
echo "check_install: a consumer of the installed package built and ran: $checked, leakguard command"
