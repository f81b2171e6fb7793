// statistics() names the file and the exact line of an allocation, also when the allocation is
// made inside the standard library on the user's behalf; keys, cumulative mode, peak and the
// traceback limit.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

using lgtest::keep;

// The statistic of this file's line `line`, or a failure.
leakguard::Statistic stat_at_line(const leakguard::Snapshot& snap, int line) {
  for (const auto& s : snap.statistics("lineno")) {
    if (s.traceback[0].lineno == line) return s;
  }
  ADD_FAILURE() << "no statistic for line " << line;
  return {};
}

TEST(Statistics, LinenoNamesThisFileAndTheAllocatingLine) {
  lgtest::Tracing tracing;
  void* p = std::malloc(1234); const int line = __LINE__;
  keep(p);
  const auto snap = lgtest::snapshot_of_file(__FILE__);
  const auto stat = stat_at_line(snap, line);
  EXPECT_EQ(stat.traceback[0].filename, __FILE__);
  EXPECT_EQ(stat.size, 1234u);
  EXPECT_EQ(stat.count, 1u);
  EXPECT_EQ(stat.str(), std::string(__FILE__) + ":" + std::to_string(line) +
                            ": size=1234 B, count=1, average=1234 B");
  EXPECT_EQ(leakguard::source_line(__FILE__, line),
            "void* p = std::malloc(1234); const int line = __LINE__;");
  std::free(p);
}

TEST(Statistics, StandardLibraryAllocationsAreAttributedToTheCallingLine) {
  lgtest::Tracing tracing;
  std::vector<int> v;
  v.push_back(1); const int vector_line = __LINE__;
  auto u = std::make_unique<std::array<char, 200>>(); const int unique_line = __LINE__;
  std::string s(100, 'x'); const int string_line = __LINE__;
  keep(v.data());
  keep(u.get());
  keep(s.data());
  const auto snap = lgtest::snapshot_of_file(__FILE__);
  EXPECT_EQ(stat_at_line(snap, vector_line).size, sizeof(int));
  EXPECT_EQ(stat_at_line(snap, unique_line).size, 200u);
  EXPECT_EQ(stat_at_line(snap, string_line).size, 101u);  // 100 chars and the terminator
  // The full traceback keeps the library frames: the first frame is in the allocator's header.
  for (const auto& s2 : snap.statistics("traceback")) {
    if (s2.traceback.attribution_frame().lineno != vector_line) continue;
    EXPECT_GT(s2.traceback.attribution_index(), 0u);
    EXPECT_NE(s2.traceback[0].filename.find("/usr/include/"), std::string::npos) << s2.traceback[0].str();
  }
}

__attribute__((noinline)) void* leaf_alloc(std::size_t n) {
  void* p = std::malloc(n);
  keep(p);
  return p;
}
int g_middle_call_line = 0;
__attribute__((noinline)) void* middle_alloc(std::size_t n) {
  void* p = leaf_alloc(n); g_middle_call_line = __LINE__;
  keep(p);
  return p;
}

TEST(Statistics, FilenameTracebackAndCumulativeKeys) {
  lgtest::Tracing tracing;
  void* a = middle_alloc(100); const int call_a = __LINE__;
  void* b = middle_alloc(50);
  void* c = leaf_alloc(7);
  const auto snap = lgtest::snapshot_of_file(__FILE__);

  const auto by_file = snap.statistics("filename");
  ASSERT_EQ(by_file.size(), 1u);
  EXPECT_EQ(by_file[0].traceback[0].filename, __FILE__);
  EXPECT_EQ(by_file[0].traceback[0].lineno, 0);
  EXPECT_EQ(by_file[0].size, 157u);
  EXPECT_EQ(by_file[0].count, 3u);

  // Three distinct stacks: two calls of middle_alloc from different lines, one of leaf_alloc.
  const auto by_tb = snap.statistics("traceback");
  ASSERT_EQ(by_tb.size(), 3u);
  EXPECT_EQ(by_tb[0].size, 100u);
  const leakguard::Traceback& tb = by_tb[0].traceback;
  ASSERT_GE(tb.size(), 3u);
  EXPECT_NE(tb[0].function.find("leaf_alloc"), std::string::npos) << tb[0].function;
  EXPECT_NE(tb[1].function.find("middle_alloc"), std::string::npos) << tb[1].function;
  EXPECT_EQ(tb[2].lineno, call_a);

  // Non-cumulative: every block counts at leaf_alloc's malloc line only.
  const auto lines = snap.statistics("lineno");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].size, 157u);
  // Cumulative: the middle_alloc line counts the two blocks that went through it.
  const auto cumulative = snap.statistics("lineno", /*cumulative=*/true);
  const auto middle = std::find_if(cumulative.begin(), cumulative.end(), [](const leakguard::Statistic& s) {
    return s.traceback[0].filename == __FILE__ && s.traceback[0].lineno == g_middle_call_line;
  });
  ASSERT_NE(middle, cumulative.end());
  EXPECT_EQ(middle->size, 150u);
  EXPECT_EQ(middle->count, 2u);
  for (void* p : {a, b, c}) std::free(p);
}

TEST(Statistics, PeakFollowsTheHighWaterMarkAndResets) {
  lgtest::Tracing tracing;
  const std::size_t base = leakguard::get_traced_memory().current;
  leakguard::reset_peak();
  EXPECT_EQ(leakguard::get_traced_memory().peak, base);
  void* a = std::malloc(10000);
  void* b = std::malloc(20000);
  keep(a);
  keep(b);
  std::free(a);
  std::free(b);
  void* c = std::malloc(5000);
  keep(c);
  const auto [current, peak] = leakguard::get_traced_memory();
  EXPECT_EQ(current - base, 5000u);
  EXPECT_EQ(peak - base, 30000u);
  leakguard::reset_peak();
  const auto after_reset = leakguard::get_traced_memory();
  EXPECT_EQ(after_reset.peak, after_reset.current);
  std::free(c);
  const auto after_free = leakguard::get_traced_memory();
  EXPECT_EQ(after_free.current, base);
  EXPECT_EQ(after_free.peak - base, 5000u);
}

// A thread growing the heap to new peaks checks the peak cheaply while nothing else changes the
// total; memory that leaves another part of it (here a domain's block) must still count, or the
// thread's regrowth into the space it left would read as a new peak.
TEST(Statistics, PeakIsExactWhenAnotherPartShrinksWhileOneThreadGrows) {
  lgtest::Tracing tracing;
  const std::size_t base = leakguard::get_traced_memory().current;
  leakguard::reset_peak();
  void* a = std::malloc(10000);
  keep(a);
  ASSERT_EQ(leakguard::track(7, 0x1000, 20000), 0);
  void* b = std::malloc(5000);  // base + 35000: the peak
  keep(b);
  ASSERT_EQ(leakguard::untrack(7, 0x1000), 0);  // base + 15000
  void* c = std::malloc(15000);                 // base + 30000: below the peak
  keep(c);
  EXPECT_EQ(leakguard::get_traced_memory().peak - base, 35000u);
  void* d = std::malloc(10000);  // base + 40000: a new peak
  keep(d);
  std::free(a);
  void* e = std::malloc(9000);  // base + 39000
  keep(e);
  const auto [current, peak] = leakguard::get_traced_memory();
  EXPECT_EQ(current - base, 39000u);
  EXPECT_EQ(peak - base, 40000u);
  for (void* p : {b, c, d, e}) std::free(p);
}

__attribute__((noinline)) void* recurse_alloc(int depth) {
  void* p = depth == 0 ? std::malloc(8) : recurse_alloc(depth - 1);
  keep(p);
  return p;
}

TEST(Statistics, TracebackLimitBoundsTheRecordedFrames) {
  for (const int limit : {1, 5, 64}) {
    lgtest::Tracing tracing(limit);
    EXPECT_EQ(leakguard::get_traceback_limit(), limit);
    void* p = recurse_alloc(100);
    const auto tb = leakguard::get_object_traceback(p);
    ASSERT_TRUE(tb.has_value());
    EXPECT_EQ(tb->total_nframe(), static_cast<std::size_t>(limit));
    EXPECT_GE(tb->size(), static_cast<std::size_t>(limit));  // inlined frames may add entries
    EXPECT_NE((*tb)[0].function.find("recurse_alloc"), std::string::npos) << (*tb)[0].function;
    std::free(p);
  }
}

TEST(Statistics, AllocationsAlternatingBetweenStacksKeepTheirOwnTracebacks) {
  // Each thread remembers its last stack to skip the table when the next one repeats it; stacks
  // that differ in one frame, in length, or only by the frame limit must still come out apart.
  lgtest::Tracing tracing(32);
  std::vector<void*> blocks;
  std::map<void*, std::pair<int, int>> expected;  // block -> (recursion depth, frame limit)
  for (int i = 0; i < 60; ++i) {
    const int depth = i % 3;          // 0, 1, 2: stacks of different lengths, same prefix
    const int limit = i % 4 == 3 ? 2 : 32;
    leakguard::start(limit);
    void* p = recurse_alloc(depth);
    blocks.push_back(p);
    expected[p] = {depth, limit};
  }
  for (void* p : blocks) {
    const auto tb = leakguard::get_object_traceback(p);
    ASSERT_TRUE(tb.has_value());
    const auto [depth, limit] = expected[p];
    int recursion_frames = 0;
    for (const auto& f : *tb) recursion_frames += f.function.find("recurse_alloc") != std::string::npos;
    if (limit == 2) {
      EXPECT_EQ(tb->total_nframe(), 2u);
    } else {
      EXPECT_EQ(recursion_frames, depth + 1) << "depth " << depth;
      EXPECT_GT(tb->total_nframe(), static_cast<std::size_t>(depth + 1));
    }
  }
  for (void* p : blocks) std::free(p);
}

}  // namespace
