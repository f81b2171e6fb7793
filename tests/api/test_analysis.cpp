// The analysis utilities on known workloads: trace scope, filtered snapshots, top sites, diffs,
// their printing, and the repeated-run leak rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace leakguard::test_helpers {
// A function in namespace leakguard, standing for code of leakguard's that allocates.
__attribute__((noinline)) void* allocate_as_leakguard(std::size_t n) {
  void* p = std::malloc(n);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}
}  // namespace leakguard::test_helpers

namespace {

using lgtest::keep;

TEST(TraceScope, StartsAndStopsOrRestoresTheLimit) {
  ASSERT_FALSE(leakguard::is_tracing());
  {
    leakguard::TraceScope scope(7);
    EXPECT_TRUE(scope.started_tracing());
    EXPECT_TRUE(leakguard::is_tracing());
    EXPECT_EQ(leakguard::get_traceback_limit(), 7);
  }
  EXPECT_FALSE(leakguard::is_tracing());

  leakguard::start(20);
  void* p = std::malloc(10);
  keep(p);
  {
    leakguard::TraceScope scope(3);
    EXPECT_FALSE(scope.started_tracing());
    EXPECT_EQ(leakguard::get_traceback_limit(), 3);
  }
  EXPECT_TRUE(leakguard::is_tracing());
  EXPECT_EQ(leakguard::get_traceback_limit(), 20);
  EXPECT_TRUE(leakguard::get_object_traceback(p).has_value()) << "the traces were left alone";
  std::free(p);
  leakguard::stop();
}

TEST(FilteredSnapshot, ExcludesRuntimeOnlyAndLeakguardBlocks) {
  leakguard::TraceScope scope(1);  // one frame: libstdc++'s own allocation has no frame of ours
  auto* s = new std::string;
  s->append(3000, 'x');  // the buffer is allocated inside libstdc++.so
  void* mine = std::malloc(777);
  void* self = leakguard::test_helpers::allocate_as_leakguard(555);
  keep(mine);
  auto sizes = [](const leakguard::Snapshot& snap) {
    std::vector<std::size_t> v;
    for (const auto& t : snap.traces()) v.push_back(t.size);
    return v;
  };
  auto has = [](const std::vector<std::size_t>& v, std::size_t n) {
    return std::find(v.begin(), v.end(), n) != v.end();
  };
  const auto all = sizes(leakguard::take_snapshot(false, false));
  EXPECT_TRUE(has(all, 3001) && has(all, 777) && has(all, 555));
  const auto no_system = sizes(leakguard::take_snapshot(true, false));
  EXPECT_FALSE(has(no_system, 3001));
  EXPECT_TRUE(has(no_system, 777) && has(no_system, 555));
  const auto no_self = sizes(leakguard::take_snapshot(false, true));
  EXPECT_FALSE(has(no_self, 555));
  EXPECT_TRUE(has(no_self, 777) && has(no_self, 3001));
  delete s;
  std::free(mine);
  std::free(self);
}

struct Sites : ::testing::Test {
  leakguard::TraceScope scope;
  std::vector<void*> blocks;
  int line_a = 0, line_b = 0;
  void allocate() {
    for (int i = 0; i < 3; ++i) {
      blocks.push_back(std::malloc(1000)); line_a = __LINE__;
    }
    blocks.push_back(std::malloc(2048)); line_b = __LINE__;
  }
  void TearDown() override {
    for (void* p : blocks) std::free(p);
  }
};

TEST_F(Sites, TopAllocationsNameFileLineFunctionSizeCountAndSource) {
  blocks.reserve(16);
  allocate();
  const auto top = leakguard::top_allocations(lgtest::snapshot_of_file(__FILE__), 2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].filename, __FILE__);
  EXPECT_EQ(top[0].lineno, line_a);
  EXPECT_EQ(top[0].size, 3000u);
  EXPECT_EQ(top[0].count, 3u);
  // allocate() is inlined into the test; an inlined frame carries its short name.
  EXPECT_NE(top[0].function.find("allocate"), std::string::npos) << top[0].function;
  EXPECT_EQ(top[0].source, "blocks.push_back(std::malloc(1000)); line_a = __LINE__;");
  EXPECT_EQ(top[1].lineno, line_b);
  EXPECT_EQ(top[1].size, 2048u);
  EXPECT_EQ(top[1].count, 1u);

  std::ostringstream out;
  leakguard::print_top(top, out);
  const std::string file = __FILE__;
  EXPECT_EQ(out.str(), "#1: " + file + ":" + std::to_string(line_a) + ": 2.9 KiB in 3 blocks\n" +
                           "    blocks.push_back(std::malloc(1000)); line_a = __LINE__;\n" + "#2: " + file + ":" +
                           std::to_string(line_b) + ": 2.0 KiB in 1 block\n" +
                           "    blocks.push_back(std::malloc(2048)); line_b = __LINE__;\n");
}

TEST_F(Sites, DiffSnapshotsListsGrowthLargestFirst) {
  blocks.reserve(16);
  void* shrinking = std::malloc(5000); const int line_s = __LINE__;
  keep(shrinking);
  const auto before = lgtest::snapshot_of_file(__FILE__);
  std::free(shrinking);
  allocate();
  const auto after = lgtest::snapshot_of_file(__FILE__);

  const auto growth = leakguard::diff_snapshots(before, after);
  ASSERT_EQ(growth.size(), 2u);
  EXPECT_EQ(growth[0].lineno, line_a);
  EXPECT_EQ(growth[0].size_diff, 3000);
  EXPECT_EQ(growth[0].count_diff, 3);
  EXPECT_EQ(growth[0].size, 3000u);
  EXPECT_EQ(growth[1].lineno, line_b);
  EXPECT_EQ(growth[1].size_diff, 2048);

  const auto all = leakguard::diff_snapshots(before, after, 0, leakguard::KeyType::kLineno, false);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].lineno, line_s);
  EXPECT_EQ(all[2].size_diff, -5000);
  EXPECT_EQ(all[2].count, 0u);
  EXPECT_EQ(leakguard::diff_snapshots(before, after, 1).size(), 1u);

  std::ostringstream out;
  leakguard::print_top(std::vector<leakguard::AllocDiff>{growth[0]}, out);
  EXPECT_EQ(out.str(), "#1: " + std::string(__FILE__) + ":" + std::to_string(line_a) +
                           ": +2.9 KiB +3 blocks (now 2.9 KiB in 3 blocks)\n"
                           "    blocks.push_back(std::malloc(1000)); line_a = __LINE__;\n");
}

// --- detect_leak --------------------------------------------------------------------------------

std::vector<int*> g_leaked;
int g_leak_line = 0;

TEST(DetectLeak, ARealLeakIsFlaggedWithItsSite) {
  leakguard::TraceScope scope;
  g_leaked.reserve(100);  // the container itself does not grow during the runs
  const auto report = leakguard::detect_leak([] { g_leaked.push_back(new int[10]); g_leak_line = __LINE__; }, 5, 1);
  EXPECT_EQ(report.verdict, leakguard::LeakVerdict::kLeak);
  EXPECT_EQ(report.iterations, 5);
  EXPECT_EQ(report.warmup, 1);
  EXPECT_EQ(report.total_growth, 5 * 40);
  EXPECT_DOUBLE_EQ(report.per_iter, 40.0);
  EXPECT_EQ(report.byte_deltas, std::vector<std::int64_t>(5, 40));
  EXPECT_EQ(report.block_deltas, std::vector<std::int64_t>(5, 1));
  ASSERT_FALSE(report.top_sites.empty());
  EXPECT_EQ(report.top_sites[0].filename, __FILE__);
  EXPECT_EQ(report.top_sites[0].lineno, g_leak_line);
  EXPECT_EQ(report.top_sites[0].size_diff, 200);
  EXPECT_EQ(report.top_sites[0].count_diff, 5);
  EXPECT_STREQ(leakguard::to_string(report.verdict), "leak");
  for (int* p : g_leaked) delete[] p;
  g_leaked.clear();
}

std::vector<char>* lazy_cache() {
  static auto* cache = new std::vector<char>(4096);  // filled on first use, kept for good
  return cache;
}

TEST(DetectLeak, AOneTimeCacheFillIsNotALeak) {
  leakguard::TraceScope scope;
  const auto report = leakguard::detect_leak([] { keep(lazy_cache()->data()); }, 5, 1);
  EXPECT_EQ(report.verdict, leakguard::LeakVerdict::kNoLeak);
  EXPECT_EQ(report.total_growth, 0);
  EXPECT_EQ(report.byte_deltas, std::vector<std::int64_t>(5, 0));
  EXPECT_TRUE(report.top_sites.empty());
}

TEST(DetectLeak, GrowthInSomeRunsOnlyIsSuspicious) {
  leakguard::TraceScope scope;
  static std::vector<void*> kept;
  kept.reserve(100);
  static int calls = 0;
  calls = 0;
  const auto report = leakguard::detect_leak(
      [] {
        if (++calls % 2 == 0) kept.push_back(std::malloc(64));
      },
      6, 1);
  EXPECT_EQ(report.verdict, leakguard::LeakVerdict::kSuspicious);
  EXPECT_EQ(report.byte_deltas, (std::vector<std::int64_t>{64, 0, 64, 0, 64, 0}));
  for (void* p : kept) std::free(p);
  kept.clear();
}

TEST(DetectLeak, ToleranceAppliesToBytesNotToBlocks) {
  leakguard::TraceScope scope;
  static void* buffer = nullptr;
  static std::size_t size = 0;
  auto grow_in_place = [] {  // bytes grow, the block count does not
    size += 8;
    buffer = std::realloc(buffer, size);
  };
  buffer = std::malloc(8);
  size = 8;
  EXPECT_EQ(leakguard::detect_leak(grow_in_place, 4, 0, 16).verdict, leakguard::LeakVerdict::kNoLeak);
  EXPECT_EQ(leakguard::detect_leak(grow_in_place, 4, 0, 0).verdict, leakguard::LeakVerdict::kLeak);
  std::free(buffer);
}

TEST(DetectLeak, MeasuringAllocatesNothingAndBadArgumentsAreRefused) {
  EXPECT_THROW(leakguard::detect_leak([] {}, 3), std::logic_error);  // tracing off
  leakguard::TraceScope scope;
  const auto report = leakguard::detect_leak([] {}, 10, 0);
  EXPECT_EQ(report.byte_deltas, std::vector<std::int64_t>(10, 0));
  EXPECT_EQ(report.block_deltas, std::vector<std::int64_t>(10, 0));
  EXPECT_EQ(report.verdict, leakguard::LeakVerdict::kNoLeak);
  EXPECT_THROW(leakguard::detect_leak([] {}, 0), std::invalid_argument);
  EXPECT_THROW(leakguard::detect_leak([] {}, 3, -1), std::invalid_argument);
}

}  // namespace
