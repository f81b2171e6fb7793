// Runs a function a chosen number of frames deep, so that what it allocates has that many frames
// above it: the "stack depth" of the benchmarks.
#pragma once
#include <benchmark/benchmark.h>

namespace leakguard_bench {

template <class Fn>
__attribute__((noinline)) void at_depth(int depth, Fn& fn) {
  if (depth > 1) {
    at_depth(depth - 1, fn);
  } else {
    fn();
  }
  benchmark::ClobberMemory();  // not a tail call: every level keeps its frame
}

}  // namespace leakguard_bench
