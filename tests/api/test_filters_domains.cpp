// Filters and domains on real traces: custom allocators reported with track()/untrack() count in
// get_traced_memory() and appear in snapshots with their domain.
#include <gtest/gtest.h>

#include <cstdlib>

#include "test_support.hpp"

namespace {

using lgtest::keep;

constexpr leakguard::Domain kPool = 7;
constexpr leakguard::Domain kGpu = 8;

TEST(Domains, TrackedBlocksCountAndCarryTheirDomain) {
  lgtest::Tracing tracing;
  const std::size_t base = leakguard::get_traced_memory().current;
  alignas(16) static char arena[4096];
  const auto a = reinterpret_cast<std::uintptr_t>(arena);
  ASSERT_EQ(leakguard::track(kPool, a, 1000), 0); const int track_line = __LINE__;
  ASSERT_EQ(leakguard::track(kPool, a + 1024, 24), 0);
  ASSERT_EQ(leakguard::track(kGpu, 0x1000, 1 << 20), 0);  // any address space: a GPU pointer
  EXPECT_EQ(leakguard::get_traced_memory().current - base, 1000u + 24u + (1u << 20));

  const auto snap = leakguard::take_snapshot();
  const auto pool = snap.filter_traces({leakguard::DomainFilter{true, kPool}});
  ASSERT_EQ(pool.traces().size(), 2u);
  EXPECT_EQ(lgtest::total_size(pool), 1024u);
  for (const auto& t : pool.traces()) EXPECT_EQ(t.domain, kPool);
  const auto stats = pool.statistics("lineno");
  ASSERT_FALSE(stats.empty());
  EXPECT_EQ(stats[0].traceback[0].filename, __FILE__);
  EXPECT_EQ(stats[0].traceback[0].lineno, track_line);

  // Tracking the same address again replaces its size; untrack forgets it.
  ASSERT_EQ(leakguard::track(kPool, a, 10), 0);
  EXPECT_EQ(leakguard::get_traced_memory().current - base, 10u + 24u + (1u << 20));
  EXPECT_EQ(leakguard::untrack(kPool, a), 0);
  EXPECT_EQ(leakguard::untrack(kPool, a + 1024), 0);
  EXPECT_EQ(leakguard::untrack(kPool, a + 2048), 0);  // never tracked: still 0
  EXPECT_EQ(leakguard::untrack(kGpu, 0x1000), 0);
  EXPECT_EQ(leakguard::get_traced_memory().current, base);
  EXPECT_EQ(leakguard::take_snapshot().filter_traces({leakguard::DomainFilter{false, 0}}).traces().size(), 0u);
}

TEST(Domains, TheSameAddressInTwoDomainsIsTwoBlocks) {
  lgtest::Tracing tracing;
  const std::size_t base = leakguard::get_traced_memory().current;
  ASSERT_EQ(leakguard::track(kPool, 0x5000, 100), 0);
  ASSERT_EQ(leakguard::track(kGpu, 0x5000, 200), 0);
  EXPECT_EQ(leakguard::get_traced_memory().current - base, 300u);
  leakguard::untrack(kPool, 0x5000);
  EXPECT_EQ(leakguard::get_traced_memory().current - base, 200u);
  leakguard::untrack(kGpu, 0x5000);
}

TEST(Domains, HeapDomainIsRefusedAndTrackingOffIsReported) {
  EXPECT_EQ(leakguard::track(kPool, 0x5000, 100), -2);
  EXPECT_EQ(leakguard::untrack(kPool, 0x5000), -2);
  lgtest::Tracing tracing;
  EXPECT_THROW(leakguard::track(leakguard::kHeapDomain, 0x5000, 100), std::invalid_argument);
}

__attribute__((noinline)) void* alloc_via_helper(std::size_t n) {
  void* p = std::malloc(n);
  keep(p);
  return p;
}

TEST(Filters, SelectRealTracesByFileLineDomainAndAnyFrame) {
  lgtest::Tracing tracing;
  void* a = std::malloc(111); const int line_a = __LINE__;
  void* b = std::malloc(222);
  keep(a);
  keep(b);
  ASSERT_EQ(leakguard::track(kPool, 0x9000, 333), 0);
  const auto snap = leakguard::take_snapshot();
  const auto mine = snap.filter_traces({leakguard::Filter(true, __FILE__)});
  EXPECT_EQ(lgtest::total_size(mine), 111u + 222u + 333u);
  EXPECT_EQ(lgtest::total_size(mine.filter_traces({leakguard::Filter(true, __FILE__, line_a)})), 111u);
  EXPECT_EQ(lgtest::total_size(mine.filter_traces({leakguard::Filter(false, __FILE__, line_a)})), 222u + 333u);
  EXPECT_EQ(lgtest::total_size(mine.filter_traces({leakguard::Filter(true, "*", std::nullopt, false, kPool)})), 333u);
  EXPECT_EQ(lgtest::total_size(mine.filter_traces({leakguard::DomainFilter{false, kPool}})), 111u + 222u);
  // all_frames matches a caller's frame, not only the attribution frame.
  void* c = alloc_via_helper(444); const int call_line = __LINE__;
  const auto with_c = leakguard::take_snapshot().filter_traces({leakguard::Filter(true, __FILE__)});
  EXPECT_EQ(with_c.filter_traces({leakguard::Filter(true, __FILE__, call_line)}).traces().size(), 0u);
  const auto via_caller = with_c.filter_traces({leakguard::Filter(true, __FILE__, call_line, true)});
  ASSERT_EQ(via_caller.traces().size(), 1u);
  EXPECT_EQ(via_caller.traces()[0].size, 444u);
  EXPECT_EQ(lgtest::total_size(with_c.filter_traces({leakguard::Filter(false, __FILE__, call_line, true)})),
            111u + 222u + 333u);
  std::free(c);
  std::free(a);
  std::free(b);
  leakguard::untrack(kPool, 0x9000);
}

}  // namespace
