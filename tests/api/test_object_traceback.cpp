// get_object_traceback() finds the block holding any byte of a traced allocation.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "symbolize/symbolizer.hpp"
#include "test_support.hpp"

namespace {

using lgtest::keep;

TEST(ObjectTraceback, StartAndInteriorPointersNameTheAllocatingLine) {
  lgtest::Tracing tracing;
  auto* p = static_cast<char*>(std::malloc(500)); const int line = __LINE__;
  keep(p);
  for (const char* q : {p, p + 1, p + 250, p + 499}) {
    const auto tb = leakguard::get_object_traceback(q);
    ASSERT_TRUE(tb.has_value()) << "offset " << (q - p);
    EXPECT_EQ(tb->attribution_frame().filename, __FILE__);
    EXPECT_EQ(tb->attribution_frame().lineno, line);
    EXPECT_EQ(tb->str(), std::string(__FILE__) + ":" + std::to_string(line));
  }
  std::free(p);
}

TEST(ObjectTraceback, UntracedFreedAndForeignPointersHaveNone) {
  auto* early = static_cast<char*>(std::malloc(64));
  keep(early);
  lgtest::Tracing tracing;
  EXPECT_FALSE(leakguard::get_object_traceback(early).has_value());
  int on_stack = 0;
  EXPECT_FALSE(leakguard::get_object_traceback(&on_stack).has_value());
  EXPECT_FALSE(leakguard::get_object_traceback(nullptr).has_value());
  auto* p = static_cast<char*>(std::malloc(32));
  keep(p);
  ASSERT_TRUE(leakguard::get_object_traceback(p).has_value());
  std::free(p);
  EXPECT_FALSE(leakguard::get_object_traceback(p).has_value());
  std::free(early);
}

TEST(ObjectTraceback, NoneWhileTracingIsOff) {
  auto* p = static_cast<char*>(std::malloc(32));
  keep(p);
  EXPECT_FALSE(leakguard::get_object_traceback(p).has_value());
  std::free(p);
}

TEST(ObjectTraceback, FormatListsFramesOldestFirstOrMostRecentFirst) {
  lgtest::Tracing tracing;
  auto* p = static_cast<char*>(std::malloc(8)); const int line = __LINE__;
  keep(p);
  const auto tb = leakguard::get_object_traceback(p);
  ASSERT_TRUE(tb.has_value());
  const std::string where = "  File \"" + std::string(__FILE__) + "\", line " + std::to_string(line);
  const auto recent_first = tb->format(1, /*most_recent_first=*/true);
  ASSERT_EQ(recent_first.size(), 2u);  // the frame line and its source line
  EXPECT_EQ(recent_first[0].rfind(where, 0), 0u) << recent_first[0];
  EXPECT_NE(recent_first[0].find("ObjectTraceback_FormatListsFramesOldestFirstOrMostRecentFirst"), std::string::npos)
      << recent_first[0];
  EXPECT_EQ(recent_first[1], "    auto* p = static_cast<char*>(std::malloc(8)); const int line = __LINE__;");
  // Oldest first (Python's order): the allocating frame is last.
  const auto oldest_first = tb->format();
  ASSERT_GE(oldest_first.size(), 2u);
  EXPECT_EQ(oldest_first[oldest_first.size() - 2], recent_first[0]);
  EXPECT_EQ(oldest_first.back(), recent_first[1]);
  // A negative limit keeps the oldest frames: the allocating frame is then absent.
  const auto oldest_two = tb->format(-1);
  ASSERT_FALSE(oldest_two.empty());
  EXPECT_NE(oldest_two[0], recent_first[0]);
  std::free(p);
}

// Each instantiation is its own function, so each allocates from its own call site.
template <int N>
__attribute__((noinline)) void* allocate_at_site() {
  void* p = std::malloc(16 + N);
  keep(p);
  return p;
}
template <int... N>
std::vector<void* (*)()> sites(std::integer_sequence<int, N...>) {
  return {&allocate_at_site<N>...};
}

// More call paths than the per-thread cache of recent stacks holds, taken in turns, so each
// allocation's stack differs from the one before and many meet their cache slot taken by another:
// every block must still carry its own site.
TEST(ObjectTraceback, AllocationsTakingTurnsAmongManyCallPathsEachNameTheirOwn) {
  lgtest::Tracing tracing;
  const auto site = sites(std::make_integer_sequence<int, 40>{});
  std::vector<std::pair<int, void*>> blocks;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 40; ++i) blocks.emplace_back(i, site[static_cast<std::size_t>((i * 7 + round) % 40)]());
  }
  for (std::size_t k = 0; k < blocks.size(); ++k) {
    const int n = (blocks[k].first * 7 + static_cast<int>(k / 40)) % 40;
    const auto tb = leakguard::get_object_traceback(blocks[k].second);
    ASSERT_TRUE(tb.has_value()) << k;
    const std::string want = "allocate_at_site<" + std::to_string(n) + ">";
    EXPECT_NE((*tb)[0].function.find(want), std::string::npos) << k << ": " << (*tb)[0].function;
  }
  for (auto& b : blocks) std::free(b.second);
}

// One call site reached through two callers of one frame size, in turns: the frames below the
// callers lie at the same addresses each time, so only the return address above them tells the
// stacks apart. Each block must name its own caller (the walk's memo of the previous walk from
// that place must not stand in for this one).
__attribute__((noinline)) void* allocate_below() {
  void* p = std::malloc(1000);  // a size no allocate_at_site<N> has: no identical code to fold with
  keep(p);
  return p;
}
volatile int g_caller = 0;  // keeps the two callers distinct (no identical-code folding)
__attribute__((noinline)) void* caller_one() {
  void* p = allocate_below();
  g_caller = 1;
  return p;
}
__attribute__((noinline)) void* caller_two() {
  void* p = allocate_below();
  g_caller = 2;
  return p;
}

TEST(ObjectTraceback, OneSiteReachedThroughCallersTakingTurnsNamesEachCaller) {
  lgtest::Tracing tracing;
  void* (*const callers[2])() = {&caller_one, &caller_two};
  std::vector<std::pair<int, void*>> blocks;
  for (int i = 0; i < 12; ++i) {
    const int which = (i / 3 + i) % 2;  // runs of one caller and alternations
    blocks.emplace_back(which, callers[which]());
  }
  for (std::size_t k = 0; k < blocks.size(); ++k) {
    const auto tb = leakguard::get_object_traceback(blocks[k].second);
    ASSERT_TRUE(tb.has_value()) << k;
    ASSERT_GE(tb->size(), 2u) << k;
    EXPECT_NE((*tb)[0].function.find("allocate_below"), std::string::npos) << k << ": " << (*tb)[0].function;
    const char* want = blocks[k].first == 0 ? "caller_one" : "caller_two";
    EXPECT_NE((*tb)[1].function.find(want), std::string::npos) << k << ": " << (*tb)[1].function;
  }
  for (auto& b : blocks) std::free(b.second);
}

TEST(Symbolization, EachAddressIsResolvedOnceAndCached) {
  lgtest::Tracing tracing;
  auto* p = static_cast<char*>(std::malloc(8));
  keep(p);
  (void)leakguard::take_snapshot();  // resolves every stack's addresses
  const std::size_t resolved = leakguard::detail::symbolizer_cache_size();
  EXPECT_GT(resolved, 0u);
  (void)leakguard::take_snapshot().statistics("traceback");
  (void)leakguard::get_object_traceback(p);
  EXPECT_EQ(leakguard::detail::symbolizer_cache_size(), resolved) << "the same addresses again: all from the cache";
  std::free(p);
}

}  // namespace
