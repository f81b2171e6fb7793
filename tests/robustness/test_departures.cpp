// The tracer's departure log (core/tracer.hpp), which the repeated-run rule nets each run with:
// exactly the blocks of earlier windows that left the trace while it ran, whichever way they
// left, and an honest "incomplete" when the log could not keep one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <thread>
#include <vector>

#include <leakguard/leakguard.hpp>

#include "core/raw_memory.hpp"
#include "core/tracer.hpp"

namespace {

void keep(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

struct Departures : ::testing::Test {
  Departures() { leakguard::start(); }
  ~Departures() override { leakguard::stop(); }
};

std::vector<std::uintptr_t> addresses(const std::vector<leakguard::detail::RawTrace>& traces) {
  std::vector<std::uintptr_t> out;
  for (const auto& t : traces) out.push_back(t.addr);
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(Departures, TheLogHoldsExactlyWhatLeftOfTheHeapBeforeTheWindow) {
  // 600 blocks from before the window (more than the log's first 256 entries), sizes 1 to 600.
  std::vector<char*> before;
  {
    leakguard::ScopedUntraced quiet;  // the vector's own buffer is not a block of the test
    before.reserve(600);
  }
  for (int i = 0; i < 600; ++i) {
    before.push_back(static_cast<char*>(std::malloc(static_cast<std::size_t>(i + 1))));
    keep(before.back());
  }
  std::uint64_t wraps = 0;
  const std::uint64_t window = leakguard::detail::tracer_begin_window(&wraps);
  leakguard::detail::tracer_log_departures(window, wraps);
  // Freed here, freed by another thread, and reallocated: every one of the 600 leaves.
  std::vector<std::uintptr_t> left;
  for (int i = 0; i < 200; ++i) {
    left.push_back(reinterpret_cast<std::uintptr_t>(before[static_cast<std::size_t>(i)]));
    std::free(before[static_cast<std::size_t>(i)]);
  }
  std::thread([&] {
    for (int i = 200; i < 400; ++i) std::free(before[static_cast<std::size_t>(i)]);
  }).join();
  for (int i = 200; i < 400; ++i) left.push_back(reinterpret_cast<std::uintptr_t>(before[static_cast<std::size_t>(i)]));
  std::vector<char*> moved;
  {
    leakguard::ScopedUntraced quiet;
    moved.reserve(200);
  }
  for (int i = 400; i < 600; ++i) {
    left.push_back(reinterpret_cast<std::uintptr_t>(before[static_cast<std::size_t>(i)]));
    moved.push_back(static_cast<char*>(std::realloc(before[static_cast<std::size_t>(i)], 4096)));
  }
  // A block of the window, freed in it: neither gone nor came.
  void* brief = std::malloc(77);
  keep(brief);
  std::free(brief);
  const leakguard::detail::WindowChange change = leakguard::detail::tracer_end_departures();
  EXPECT_TRUE(change.complete);
  std::sort(left.begin(), left.end());
  EXPECT_EQ(addresses(change.gone), left);
  std::size_t gone_bytes = 0;
  for (const auto& t : change.gone) gone_bytes += t.size;
  EXPECT_EQ(gone_bytes, 600u * 601u / 2u) << "each departure keeps its block's size";
  // The reallocated blocks are the window's, still live (the thread's own allocations may be
  // there too).
  std::vector<std::uintptr_t> came = addresses(change.came);
  for (char* p : moved) {
    EXPECT_TRUE(std::binary_search(came.begin(), came.end(), reinterpret_cast<std::uintptr_t>(p))) << "a block of the window";
  }
  // The log has stopped: a later free is not kept.
  for (char* p : moved) std::free(p);
  const leakguard::detail::WindowChange after = leakguard::detail::tracer_end_departures();
  EXPECT_FALSE(after.complete) << "no log was running";
  EXPECT_TRUE(after.gone.empty());
}

TEST_F(Departures, ALogWithoutMemoryForItsEntriesSaysItIsIncomplete) {
  std::vector<void*> before;
  {
    leakguard::ScopedUntraced quiet;
    before.reserve(5000);
  }
  // More than a log this thread grew before can hold without growing again.
  for (int i = 0; i < 5000; ++i) before.push_back(std::malloc(40));
  std::uint64_t wraps = 0;
  const std::uint64_t window = leakguard::detail::tracer_begin_window(&wraps);
  leakguard::detail::tracer_log_departures(window, wraps);
  leakguard::detail::raw_inject_failures(1 << 30);  // the log cannot grow
  for (void* p : before) std::free(p);
  leakguard::detail::raw_inject_failures(0);
  const leakguard::detail::WindowChange change = leakguard::detail::tracer_end_departures();
  EXPECT_FALSE(change.complete);
  EXPECT_LT(change.gone.size(), 5000u);
  // The next log starts whole again.
  void* p = std::malloc(40);
  keep(p);
  {
    const std::uint64_t id = leakguard::detail::tracer_begin_window(&wraps);
    leakguard::detail::tracer_log_departures(id, wraps);
  }
  std::free(p);
  const leakguard::detail::WindowChange next = leakguard::detail::tracer_end_departures();
  EXPECT_TRUE(next.complete);
  ASSERT_EQ(next.gone.size(), 1u);
  EXPECT_EQ(next.gone[0].addr, reinterpret_cast<std::uintptr_t>(p));
  EXPECT_EQ(next.gone[0].size, 40u);
}

TEST_F(Departures, ClearingTheTracesMakesTheLogIncomplete) {
  void* p = std::malloc(40);
  keep(p);
  std::uint64_t wraps = 0;
  {
    const std::uint64_t id = leakguard::detail::tracer_begin_window(&wraps);
    leakguard::detail::tracer_log_departures(id, wraps);
  }
  leakguard::clear_traces();
  std::free(p);
  EXPECT_FALSE(leakguard::detail::tracer_end_departures().complete);
}

TEST_F(Departures, WindowIdsWrappingMakeTheLogIncomplete) {
  void* p = std::malloc(40);
  keep(p);
  std::uint64_t wraps = 0;
  const std::uint64_t id = leakguard::detail::tracer_begin_window(&wraps);
  leakguard::detail::tracer_log_departures(id, wraps);
  // Every older block's tag is cleared when the ids wrap: the log's window means nothing after.
  std::uint64_t later = wraps;
  while (later == wraps) leakguard::detail::tracer_begin_window(&later);
  std::free(p);
  EXPECT_FALSE(leakguard::detail::tracer_end_departures().complete);
}

}  // namespace
