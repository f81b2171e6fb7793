// When the tracer cannot map memory for its own tables, the program's allocations still succeed:
// the blocks are counted as untraced, and traced plus untraced bytes add up exactly.
#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include <leakguard/leakguard.hpp>

#include "core/raw_memory.hpp"

namespace {

void keep(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

TEST(TracerOutOfMemory, AllocationsSucceedAndTheLossIsCounted) {
  leakguard::start();
  std::vector<void*> blocks;
  blocks.reserve(200000);
  const std::size_t base = leakguard::get_traced_memory().current;
  // The newest blocks wait in a small per-thread nursery before they enter the table, and the
  // table is where memory runs out: fill the nursery with blocks of this test first, so that any
  // block that goes untraced is one the test counts.
  std::size_t requested = 0;
  for (int i = 0; i < 8; ++i) {
    blocks.push_back(std::malloc(8));
    keep(blocks.back());
    requested += 8;
  }
  leakguard::detail::raw_inject_failures(1 << 30);  // every mmap of the tracer fails from now on
  for (int i = 0; i < 200000 - 8; ++i) {
    const std::size_t size = 8 + static_cast<std::size_t>(i % 50);
    void* p = std::malloc(size);
    ASSERT_NE(p, nullptr) << "the program's allocation failed at " << i;
    keep(p);
    blocks.push_back(p);
    requested += size;
  }
  const leakguard::TracerStats stats = leakguard::get_tracer_stats();
  leakguard::detail::raw_inject_failures(0);
  EXPECT_GT(stats.untraced_blocks, 0u) << "the table never had to grow";
  EXPECT_EQ(leakguard::get_traced_memory().current - base + stats.untraced_bytes, requested);
  for (void* p : blocks) std::free(p);
  EXPECT_EQ(leakguard::get_traced_memory().current, base);
  // Once memory is back, tracing resumes.
  void* p = std::malloc(123);
  keep(p);
  EXPECT_TRUE(leakguard::get_object_traceback(p).has_value());
  std::free(p);
  leakguard::stop();
}

}  // namespace
