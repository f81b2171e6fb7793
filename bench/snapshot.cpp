// Snapshot cost and tracer memory with 1M live blocks, allocated at 64 stack depths (25 frames
// are recorded, so 25 distinct stacks). Prints one JSON object for bench/report.py.
//
// Tracer memory is get_tracer_memory() (every byte the tracer has mmap'ed), per live block: in
// total, and with the interned stacks (detail::stack_table_bytes()) taken out. On the way up to
// 1M blocks it is sampled every 4096 blocks, so the worst ratio between two table growths shows.
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <leakguard/leakguard.hpp>

#include "core/own_heap.hpp"
#include "core/stack_table.hpp"

namespace {

constexpr std::size_t kBlocks = 1 << 20;
constexpr int kReps = 3;

__attribute__((noinline)) void* alloc_at_depth(int depth, std::size_t size) {
  void* p = depth > 0 ? alloc_at_depth(depth - 1, size) : std::malloc(size);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// In-use heap bytes: those in glibc's arenas, in chunks it mmaps for large requests, and in
// leakguard's own heap, where leakguard's code (the snapshot included) allocates.
std::size_t heap_in_use() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd + leakguard::detail::own_heap_live_bytes();
}

}  // namespace

int main() {
  std::vector<void*> blocks(kBlocks);
  leakguard::start(25);
  const std::size_t tracer_at_start = leakguard::get_tracer_memory();
  double min_per_block = 1e300, max_per_block = 0;  // tables only, from 64k blocks on
  for (std::size_t i = 0; i < kBlocks; ++i) {
    blocks[i] = alloc_at_depth(static_cast<int>(i % 64), 32);
    if ((i + 1) % 4096 == 0 && i + 1 >= 65536) {
      const double per = static_cast<double>(leakguard::get_tracer_memory() -
                                             leakguard::detail::stack_table_bytes()) /
                         static_cast<double>(i + 1);
      min_per_block = std::min(min_per_block, per);
      max_per_block = std::max(max_per_block, per);
    }
  }
  const std::size_t tracer_bytes = leakguard::get_tracer_memory();
  const std::size_t stack_bytes = leakguard::detail::stack_table_bytes();

  const std::size_t heap_before = heap_in_use();
  auto t0 = std::chrono::steady_clock::now();
  const leakguard::Snapshot first = leakguard::take_snapshot();  // symbolizes every stack
  const double first_s = seconds_since(t0);
  const std::size_t snapshot_bytes = heap_in_use() - heap_before;
  double retake_s = 1e300, stats_s = 1e300;
  std::size_t sites = 0, traces = first.traces().size();
  for (int r = 0; r < kReps; ++r) {
    t0 = std::chrono::steady_clock::now();
    const leakguard::Snapshot snap = leakguard::take_snapshot();  // symbols now cached
    retake_s = std::min(retake_s, seconds_since(t0));
    t0 = std::chrono::steady_clock::now();
    const auto stats = first.statistics("lineno");
    stats_s = std::min(stats_s, seconds_since(t0));
    sites = stats.size();
    traces = std::min(traces, snap.traces().size());
  }

  std::printf(
      "{\"blocks\": %zu, \"traces\": %zu, \"stacks\": %zu, \"tracer_bytes\": %zu, "
      "\"tracer_bytes_at_start\": %zu, \"stack_table_bytes\": %zu, "
      "\"tracer_bytes_per_block\": %.2f, \"tracer_bytes_per_block_without_stacks\": %.2f, "
      "\"tables_bytes_per_block_min\": %.2f, \"tables_bytes_per_block_max\": %.2f, "
      "\"take_snapshot_s\": %.4f, \"retake_snapshot_s\": %.4f, \"statistics_lineno_s\": %.4f, "
      "\"snapshot_bytes\": %zu, \"snapshot_bytes_per_block\": %.1f, \"sites\": %zu}\n",
      kBlocks, traces, leakguard::get_tracer_stats().interned_stacks, tracer_bytes, tracer_at_start,
      stack_bytes, static_cast<double>(tracer_bytes) / kBlocks,
      static_cast<double>(tracer_bytes - stack_bytes) / kBlocks, min_per_block, max_per_block,
      first_s, retake_s, stats_s, snapshot_bytes, static_cast<double>(snapshot_bytes) / kBlocks, sites);
  for (void* p : blocks) std::free(p);
  leakguard::stop();
  return traces == kBlocks ? 0 : 1;
}
