// What one stack capture costs with each method, at the depths of the micro benchmark:
// leakguard's frame-pointer walk (what the tracer uses), the same walker stepping every frame by
// its DWARF rule (LEAKGUARD_UNWIND=cfi), glibc's backtrace() and _Unwind_Backtrace.
//
// Built twice. bench_capture has no libunwind: backtrace() and _Unwind_Backtrace are libgcc's
// DWARF unwinder, what a program gets by default. bench_capture_libunwind links libunwind, and
// adds unw_backtrace(); there, libunwind's own _Unwind_Backtrace replaces libgcc's for the whole
// process, backtrace() included, so its rows for methods 1 and 2 measure libunwind too.
#include <benchmark/benchmark.h>
#include <execinfo.h>
#include <unwind.h>

#include <cstdint>

#ifdef LEAKGUARD_BENCH_LIBUNWIND
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#endif

#include "at_depth.hpp"
#include "core/config.hpp"
#include "core/modules.hpp"
#include "core/stack_capture.hpp"

namespace {

using leakguard::detail::capture_stack;
using leakguard::detail::current_thread_stack_bounds;
using leakguard::detail::set_unwind_mode;
using leakguard::detail::UnwindMode;

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
  return static_cast<int>(
      capture_stack(LG_CURRENT_FRAME(), bounds, static_cast<std::uint32_t>(max), out, &leakguard::detail::t_walk_memo).n);
}

enum Method { kFramePointer = 0, kBacktrace = 1, kUnwindBacktrace = 2, kUnwBacktrace = 3, kLeakguardCfi = 4 };

void capture(benchmark::State& state) {
  const int depth = static_cast<int>(state.range(0));
  const int method = static_cast<int>(state.range(1));
  set_unwind_mode(method == kLeakguardCfi ? UnwindMode::kCfi : UnwindMode::kFramePointers);
  std::uintptr_t frames[128];
  int got = 0;
  auto loop = [&] {
    for (auto _ : state) {
      switch (method) {
        case kFramePointer:
        case kLeakguardCfi:
          got = fp_walk(frames, depth);
          break;
        case kBacktrace:
          got = backtrace(reinterpret_cast<void**>(frames), depth);
          break;
        case kUnwindBacktrace: {
          UnwindState s{frames, 0, depth};
          _Unwind_Backtrace(on_frame, &s);
          got = s.n;
          break;
        }
#ifdef LEAKGUARD_BENCH_LIBUNWIND
        case kUnwBacktrace:
          got = unw_backtrace(reinterpret_cast<void**>(frames), depth);
          break;
#endif
      }
      benchmark::DoNotOptimize(frames[0]);
      benchmark::ClobberMemory();
    }
  };
  at_depth(depth, loop);
  set_unwind_mode(UnwindMode::kFramePointers);
  state.counters["frames"] = got;  // what the method actually captured
}

}  // namespace

// method: 0 = leakguard frame-pointer walk, 1 = glibc backtrace(), 2 = _Unwind_Backtrace,
// 3 = libunwind unw_backtrace(), 4 = leakguard walk stepping every frame by its CFI rule.
#ifdef LEAKGUARD_BENCH_LIBUNWIND
BENCHMARK(capture)->ArgsProduct({{1, 8, 25, 64}, {0, 1, 2, 3}})->ArgNames({"depth", "method"});
#else
BENCHMARK(capture)->ArgsProduct({{1, 8, 25, 64}, {0, 4, 1, 2}})->ArgNames({"depth", "method"});
#endif

BENCHMARK_MAIN();
