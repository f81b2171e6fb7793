// ns per malloc+free and new+delete pair at a given call-stack depth, plain or traced.
//
// Built twice from this one source (see CMakeLists.txt): bench_micro_plain links nothing but the
// C++ runtime, bench_micro_traced links leakguard::leakguard. scripts/bench.sh runs both in one
// go and divides; only ratios from one run mean anything on a noisy machine.
//
// Arguments of each benchmark: depth (frames below the benchmark loop, also the frames captured)
// and, in the traced build, mode: 0 = leakguard linked but tracing off, 1 = tracing with
// nframe = depth, 2 = tracing with the default nframe (16).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <vector>

#include "at_depth.hpp"

#ifdef LEAKGUARD_BENCH_TRACED
#include <leakguard/leakguard.hpp>
#endif

namespace {

void configure(benchmark::State& state) {
#ifdef LEAKGUARD_BENCH_TRACED
  if (state.thread_index() != 0) return;
  leakguard::stop();
  const auto mode = state.range(1);
  if (mode == 1) leakguard::start(static_cast<int>(state.range(0)));
  if (mode == 2) leakguard::start();
#else
  (void)state;
#endif
}

void finish(benchmark::State& state) {
#ifdef LEAKGUARD_BENCH_TRACED
  if (state.thread_index() == 0) leakguard::stop();
#else
  (void)state;
#endif
}

using leakguard_bench::at_depth;

void malloc_free(benchmark::State& state) {
  configure(state);
  auto loop = [&] {
    std::size_t i = 0;
    for (auto _ : state) {
      void* p = std::malloc(32 + (i++ & 63));
      benchmark::DoNotOptimize(p);
      std::free(p);
    }
  };
  at_depth(static_cast<int>(state.range(0)), loop);
  finish(state);
}

void new_delete(benchmark::State& state) {
  configure(state);
  auto loop = [&] {
    std::size_t i = 0;
    for (auto _ : state) {
      char* p = new char[32 + (i++ & 63)];
      benchmark::DoNotOptimize(p);
      delete[] p;
    }
  };
  at_depth(static_cast<int>(state.range(0)), loop);
  finish(state);
}

// Cold: 1M blocks live (traced, when tracing); each pair frees a pseudo-random one and allocates
// its replacement, so the tracer's table lookups miss the cache as a real program's do.
void malloc_free_cold(benchmark::State& state) {
  configure(state);
  constexpr std::size_t kLive = 1 << 20;
  std::vector<void*> live(kLive);
  for (auto& p : live) p = std::malloc(32);
  std::mt19937_64 rng(1);
  auto loop = [&] {
    for (auto _ : state) {
      void*& slot = live[rng() & (kLive - 1)];
      std::free(slot);
      slot = std::malloc(32 + (rng() & 63));
      benchmark::DoNotOptimize(slot);
    }
  };
  at_depth(static_cast<int>(state.range(0)), loop);
  for (void* p : live) std::free(p);
  finish(state);
}

void depths(benchmark::internal::Benchmark* b) {
#ifdef LEAKGUARD_BENCH_TRACED
  const std::vector<int64_t> modes = {0, 1, 2};
#else
  const std::vector<int64_t> modes = {0};
#endif
  for (int64_t depth : {1, 8, 25, 64}) {
    for (int64_t mode : modes) b->Args({depth, mode});
  }
  b->ArgNames({"depth", "mode"});
}

}  // namespace

BENCHMARK(malloc_free)->Apply(depths)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(new_delete)->Apply(depths)->Threads(1)->Threads(2)->UseRealTime();
// Cold rows run a fixed number of pairs, so that the 1M-block set-up is done once per run.
constexpr int64_t kColdPairs = int64_t{1} << 21;
#ifdef LEAKGUARD_BENCH_TRACED
BENCHMARK(malloc_free_cold)
    ->Args({1, 0})->Args({1, 1})->Args({25, 0})->Args({25, 1})
    ->ArgNames({"depth", "mode"})->Iterations(kColdPairs)->UseRealTime();
#else
BENCHMARK(malloc_free_cold)
    ->Args({1, 0})->Args({25, 0})->ArgNames({"depth", "mode"})->Iterations(kColdPairs)->UseRealTime();
#endif

BENCHMARK_MAIN();
