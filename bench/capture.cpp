// What one stack capture costs with each method, at the depths of the micro benchmark:
// leakguard's frame-pointer walk (with unwind-table steps for system libraries), glibc's
// backtrace() and libgcc's _Unwind_Backtrace (both DWARF unwinders).
#include <benchmark/benchmark.h>
#include <execinfo.h>
#include <unwind.h>

#include <cstdint>

#include "at_depth.hpp"
#include "core/config.hpp"
#include "core/modules.hpp"
#include "core/stack_capture.hpp"

namespace {

using leakguard::detail::capture_stack;
using leakguard::detail::current_thread_stack_bounds;

using leakguard_bench::at_depth;

struct UnwindState {
  std::uintptr_t* out;
  int n;
  int max;
};

_Unwind_Reason_Code on_frame(_Unwind_Context* ctx, void* arg) {
  auto* s = static_cast<UnwindState*>(arg);
  if (s->n == s->max) return _URC_END_OF_STACK;
  s->out[s->n++] = _Unwind_GetIP(ctx);
  return _URC_NO_REASON;
}

__attribute__((noinline)) int fp_walk(std::uintptr_t* out, int max) {
  static const auto bounds = current_thread_stack_bounds();
  std::uint64_t hash;
  return static_cast<int>(capture_stack(LG_CURRENT_FRAME(), bounds, static_cast<std::uint32_t>(max), out, &hash));
}

void capture(benchmark::State& state) {
  leakguard::detail::refresh_modules();
  const int depth = static_cast<int>(state.range(0));
  const int method = static_cast<int>(state.range(1));
  std::uintptr_t frames[128];
  int got = 0;
  auto loop = [&] {
    for (auto _ : state) {
      if (method == 0) {
        got = fp_walk(frames, depth);
      } else if (method == 1) {
        got = backtrace(reinterpret_cast<void**>(frames), depth);
      } else {
        UnwindState s{frames, 0, depth};
        _Unwind_Backtrace(on_frame, &s);
        got = s.n;
      }
      benchmark::DoNotOptimize(frames[0]);
    }
  };
  at_depth(depth, loop);
  state.counters["frames"] = got;
}

}  // namespace

// method: 0 = leakguard frame-pointer walk, 1 = glibc backtrace(), 2 = _Unwind_Backtrace
BENCHMARK(capture)->ArgsProduct({{1, 8, 25, 64}, {0, 1, 2}})->ArgNames({"depth", "method"});

BENCHMARK_MAIN();
