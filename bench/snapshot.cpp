// Snapshot cost and tracer memory with 1M live blocks, allocated at 64 stack depths (25 frames
// are recorded, so 25 distinct stacks). Prints one JSON object for bench/report.py.
#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <leakguard/leakguard.hpp>

#include "core/stack_table.hpp"

namespace {

constexpr std::size_t kBlocks = 1 << 20;

__attribute__((noinline)) void* alloc_at_depth(int depth, std::size_t size) {
  void* p = depth > 0 ? alloc_at_depth(depth - 1, size) : std::malloc(size);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main() {
  std::vector<void*> blocks(kBlocks);
  leakguard::start(25);
  const std::size_t tracer_before = leakguard::get_tracer_memory();
  for (std::size_t i = 0; i < kBlocks; ++i) blocks[i] = alloc_at_depth(static_cast<int>(i % 64), 32);
  const std::size_t tracer_bytes = leakguard::get_tracer_memory() - tracer_before;
  const std::size_t stack_bytes = leakguard::detail::stack_table_bytes();

  // In-use heap bytes, those in glibc's arenas and those in chunks it mmaps for large requests.
  const auto heap_in_use = [] {
    const struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
  };
  const std::size_t heap_before = heap_in_use();
  auto t0 = std::chrono::steady_clock::now();
  const leakguard::Snapshot snap = leakguard::take_snapshot();
  const double take_s = seconds_since(t0);
  const std::size_t snapshot_bytes = heap_in_use() - heap_before;
  t0 = std::chrono::steady_clock::now();
  const auto stats = snap.statistics("lineno");
  const double stats_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  const leakguard::Snapshot again = leakguard::take_snapshot();  // symbols now cached
  const double retake_s = seconds_since(t0);

  std::printf(
      "{\"blocks\": %zu, \"traces\": %zu, \"stacks\": %zu, \"tracer_bytes\": %zu, "
      "\"stack_table_bytes\": %zu, \"tracer_bytes_per_block\": %.1f, "
      "\"tracer_bytes_per_block_without_stacks\": %.1f, \"take_snapshot_s\": %.3f, "
      "\"retake_snapshot_s\": %.3f, \"statistics_lineno_s\": %.3f, \"snapshot_bytes\": %zu, "
      "\"snapshot_bytes_per_block\": %.1f, \"sites\": %zu}\n",
      kBlocks, snap.traces().size(), leakguard::get_tracer_stats().interned_stacks, tracer_bytes,
      stack_bytes, static_cast<double>(tracer_bytes) / kBlocks,
      static_cast<double>(tracer_bytes - stack_bytes) / kBlocks, take_s, retake_s, stats_s,
      snapshot_bytes, static_cast<double>(snapshot_bytes) / kBlocks, stats.size());
  for (void* p : blocks) std::free(p);
  leakguard::stop();
  return again.traces().size() == kBlocks ? 0 : 1;
}
