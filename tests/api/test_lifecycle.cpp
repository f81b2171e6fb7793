// start/stop/clear semantics, the tracer's own memory, ScopedUntraced, and the Statistic text.
#include <gtest/gtest.h>

#include <cstdlib>

#include "test_support.hpp"

namespace {

using lgtest::keep;

TEST(Lifecycle, StartStopAndClearBehaveAsTracemalloc) {
  EXPECT_FALSE(leakguard::is_tracing());
  EXPECT_THROW(leakguard::take_snapshot(), std::logic_error);
  EXPECT_EQ(leakguard::get_traced_memory().current, 0u);

  leakguard::start(8);
  EXPECT_TRUE(leakguard::is_tracing());
  EXPECT_EQ(leakguard::get_traceback_limit(), 8);
  void* p = std::malloc(777);
  keep(p);
  EXPECT_GE(leakguard::get_traced_memory().current, 777u);

  leakguard::start(4);  // already on: only the limit changes, traces stay
  EXPECT_EQ(leakguard::get_traceback_limit(), 4);
  EXPECT_TRUE(leakguard::get_object_traceback(p).has_value());

  leakguard::clear_traces();  // forgets everything, keeps tracing
  EXPECT_TRUE(leakguard::is_tracing());
  EXPECT_EQ(leakguard::get_traced_memory().current, 0u);
  EXPECT_EQ(leakguard::get_traced_memory().peak, 0u);
  EXPECT_FALSE(leakguard::get_object_traceback(p).has_value());
  std::free(p);  // a block the tracer forgot: no effect on the counts
  EXPECT_EQ(leakguard::get_traced_memory().current, 0u);

  void* q = std::malloc(10);
  keep(q);
  EXPECT_EQ(leakguard::get_traced_memory().current, 10u);
  leakguard::stop();
  EXPECT_FALSE(leakguard::is_tracing());
  EXPECT_EQ(leakguard::get_traced_memory().current, 0u);
  std::free(q);
  leakguard::start();
  EXPECT_EQ(leakguard::get_traceback_limit(), leakguard::kDefaultTracebackLimit);
  EXPECT_EQ(leakguard::get_traced_memory().current, 0u);  // stop() cleared q's trace
  leakguard::stop();
}

TEST(Lifecycle, FrameLimitsAreChecked) {
  EXPECT_THROW(leakguard::start(0), std::invalid_argument);
  EXPECT_THROW(leakguard::start(leakguard::kMaxTracebackLimit + 1), std::invalid_argument);
  EXPECT_FALSE(leakguard::is_tracing());
  leakguard::start(leakguard::kMaxTracebackLimit);
  EXPECT_EQ(leakguard::get_traceback_limit(), leakguard::kMaxTracebackLimit);
  leakguard::stop();
}

TEST(Lifecycle, TracerMemoryIsReportedAndGrowsWithLiveBlocks) {
  lgtest::Tracing tracing;
  // May be 0 here: the start itself maps nothing (the module list is the loader's own).
  const std::size_t before = leakguard::get_tracer_memory();
  std::vector<void*> blocks;
  blocks.reserve(100000);
  for (int i = 0; i < 100000; ++i) {
    blocks.push_back(std::malloc(16));
    keep(blocks.back());
  }
  const leakguard::TracerStats stats = leakguard::get_tracer_stats();
  EXPECT_EQ(stats.tracer_bytes, leakguard::get_tracer_memory());
  EXPECT_GT(stats.tracer_bytes, before + 100000 * 16 / 2);  // at least half a 16-byte entry each
  EXPECT_LT(stats.tracer_bytes, before + 100000 * 64);
  EXPECT_EQ(stats.untraced_blocks, 0u);
  EXPECT_EQ(stats.untraced_bytes, 0u);
  EXPECT_GE(stats.interned_stacks, 1u);
  EXPECT_GE(stats.threads, 1u);
  for (void* b : blocks) std::free(b);
}

TEST(Lifecycle, ScopedUntracedHidesTheThreadsAllocations) {
  lgtest::Tracing tracing;
  const std::size_t base = leakguard::get_traced_memory().current;
  void* hidden;
  {
    leakguard::ScopedUntraced untraced;
    {
      leakguard::ScopedUntraced nested;
    }
    hidden = std::malloc(4000);  // still inside the outer scope
    keep(hidden);
  }
  EXPECT_EQ(leakguard::get_traced_memory().current, base);
  EXPECT_FALSE(leakguard::get_object_traceback(hidden).has_value());
  void* seen = std::malloc(40);
  keep(seen);
  EXPECT_EQ(leakguard::get_traced_memory().current - base, 40u);
  std::free(hidden);
  std::free(seen);
  EXPECT_EQ(leakguard::get_traced_memory().current, base);
}

TEST(Lifecycle, FreesInsideScopedUntracedStillForgetTracedBlocks) {
  lgtest::Tracing tracing;
  const std::size_t base = leakguard::get_traced_memory().current;
  void* p = std::malloc(300);
  keep(p);
  {
    leakguard::ScopedUntraced untraced;
    std::free(p);
  }
  EXPECT_EQ(leakguard::get_traced_memory().current, base);
}

}  // namespace
