#!/usr/bin/env bash
# Builds the GoogleTest plugin and its self-tests against another GoogleTest than Debian's, and
# runs them. GoogleTest is not downloaded: pass a source tree you have, e.g. a release archive.
# Usage: scripts/check-gtest-version.sh <googletest-source-dir> [work-dir]
#   git -C googletest archive --prefix=gt-1.10/ release-1.10.0 | tar -x -C /tmp
#   scripts/check-gtest-version.sh /tmp/gt-1.10
set -euo pipefail
src=${1:?usage: $0 <googletest-source-dir> [work-dir]}
[ -f "$src/CMakeLists.txt" ] && [ -d "$src/googletest" ] || { echo "check-gtest-version: $src is not a GoogleTest source tree" >&2; exit 2; }
work=${2:-/tmp/leakguard-gtest-$(basename "$src")}
here=$(cd "$(dirname "$0")/.." && pwd)

cmake -S "$src" -B "$work/gtest-build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_STANDARD=17 \
  -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DCMAKE_INSTALL_PREFIX="$work/gtest" >/dev/null
cmake --build "$work/gtest-build" -j2 >/dev/null
cmake --install "$work/gtest-build" >/dev/null

cmake -S "$here" -B "$work/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLEAKGUARD_BUILD_BENCH=OFF \
  -DCMAKE_FIND_PACKAGE_PREFER_CONFIG=ON -DGTest_DIR="$work/gtest/lib/cmake/GTest" >/dev/null
cmake --build "$work/build" -j2 --target sample_tests gtest_plugin_tests gtest_leak_check >/dev/null
# The plugin must have been compiled against that GoogleTest, not /usr/include's.
grep -q -- "-isystem $work/gtest/include" "$work/build/gtest_plugin/CMakeFiles/leakguard_gtest.dir/flags.make" ||
  { echo "check-gtest-version: the plugin was not built against $work/gtest/include" >&2; exit 1; }
ctest --test-dir "$work/build" -R 'GtestPlugin|discovered|example' --output-on-failure
