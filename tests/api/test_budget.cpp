// Net and peak budgets, passing and failing, with the crossing allocation of a peak budget.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace {

using lgtest::keep;

TEST(NetBudget, PassesWhenTheBlockGivesBackWhatItTook) {
  leakguard::TraceScope scope;
  leakguard::MemoryBudget budget(leakguard::BudgetKind::kNet, 1024);
  void* p = std::malloc(50000);
  keep(p);
  std::free(p);
  void* kept = std::malloc(1000);
  keep(kept);
  const auto result = budget.check();
  EXPECT_FALSE(result.exceeded);
  EXPECT_EQ(result.used, 1000);
  EXPECT_EQ(result.budget, 1024);
  EXPECT_TRUE(result.report.sites.empty());
  EXPECT_EQ(result.message(), "");
  std::free(kept);
}

TEST(NetBudget, FailsWithTheSitesThatGrew) {
  leakguard::TraceScope scope;
  std::vector<void*> kept;
  kept.reserve(4);
  int line = 0;
  leakguard::MemoryBudget budget(leakguard::BudgetKind::kNet, "1 KiB");
  for (int i = 0; i < 4; ++i) {
    kept.push_back(std::malloc(2560)); line = __LINE__;
  }
  const auto result = budget.check();
  EXPECT_TRUE(result.exceeded);
  EXPECT_EQ(result.used, 10240);
  ASSERT_FALSE(result.report.sites.empty());
  EXPECT_EQ(result.report.sites[0].traceback.attribution_frame().lineno, line);
  EXPECT_EQ(result.report.sites[0].size_diff, 10240);
  EXPECT_EQ(result.report.sites[0].count_diff, 4);
  EXPECT_EQ(result.message().rfind("leakguard: net growth over budget: +10.0 KiB in +4 blocks (budget 1.0 KiB)\n", 0), 0u)
      << result.message();
  EXPECT_THROW(budget.check_or_throw(), leakguard::BudgetExceeded);
  EXPECT_EQ(budget.check().used, 10240) << "check() is final";
  for (void* p : kept) std::free(p);
}

TEST(PeakBudget, MeasuresTheHighWaterMarkAboveTheStart) {
  leakguard::TraceScope scope;
  void* before = std::malloc(100000);  // held from before: not the block's
  keep(before);
  leakguard::MemoryBudget budget(leakguard::BudgetKind::kPeak, 20 * 1024);
  void* a = std::malloc(8000);
  void* b = std::malloc(2000);
  keep(a);
  keep(b);
  std::free(a);
  std::free(b);
  const auto result = budget.check();
  EXPECT_FALSE(result.exceeded);
  EXPECT_EQ(result.used, 10000);
  EXPECT_FALSE(result.crossing.has_value());
  std::free(before);
}

int g_line_a = 0, g_line_b = 0;

TEST(PeakBudget, FailsWithTheBlocksLiveWhenTheBudgetWasCrossedAndTheCrossingAllocation) {
  leakguard::TraceScope scope;
  leakguard::MemoryBudget budget(leakguard::BudgetKind::kPeak, 10 * 1024);
  void* a = std::malloc(6 * 1024); g_line_a = __LINE__;
  keep(a);
  void* b = std::malloc(6 * 1024); g_line_b = __LINE__;  // crosses: 12 KiB > 10 KiB
  keep(b);
  std::free(a);
  std::free(b);
  void* later = std::malloc(100 * 1024);  // higher still, but after the crossing
  keep(later);
  std::free(later);
  const auto result = budget.check();
  EXPECT_TRUE(result.exceeded);
  EXPECT_EQ(result.used, 100 * 1024);
  ASSERT_TRUE(result.crossing.has_value());
  EXPECT_EQ(result.crossing->attribution_frame().filename, __FILE__);
  EXPECT_EQ(result.crossing->attribution_frame().lineno, g_line_b);
  // The sites are those live at the crossing: a and b, not `later`.
  ASSERT_EQ(result.report.sites.size(), 2u) << result.message();
  EXPECT_EQ(result.report.total_bytes, 12 * 1024);
  std::vector<int> lines;
  for (const auto& s : result.report.sites) lines.push_back(s.traceback.attribution_frame().lineno);
  EXPECT_NE(std::find(lines.begin(), lines.end(), g_line_a), lines.end());
  EXPECT_NE(std::find(lines.begin(), lines.end(), g_line_b), lines.end());
  const std::string message = result.message();
  EXPECT_EQ(message.rfind("leakguard: peak over budget: +12.0 KiB in +2 blocks (budget 10.0 KiB)\n", 0), 0u) << message;
  const auto crossing_part = message.find("  crossed by this allocation:\n");
  ASSERT_NE(crossing_part, std::string::npos) << message;
  EXPECT_NE(message.find(std::string(__FILE__) + ":" + std::to_string(g_line_b), crossing_part), std::string::npos)
      << message;
}

TEST(PeakBudget, TheCrossingAllocationMayComeFromAnotherThread) {
  leakguard::TraceScope scope;
  void* big = std::malloc(4096);
  keep(big);
  int line = 0;
  void* theirs = nullptr;
  leakguard::MemoryBudget budget(leakguard::BudgetKind::kPeak, 50000);
  std::thread([&] {
    theirs = std::malloc(60000); line = __LINE__;
  }).join();
  const auto result = budget.check();
  EXPECT_TRUE(result.exceeded);
  ASSERT_TRUE(result.crossing.has_value());
  EXPECT_EQ(result.crossing->attribution_frame().lineno, line);
  std::free(theirs);
  std::free(big);
}

TEST(Budgets, MisuseIsRefused) {
  EXPECT_THROW(leakguard::MemoryBudget(leakguard::BudgetKind::kNet, 1), std::logic_error);  // tracing off
  leakguard::TraceScope scope;
  EXPECT_THROW(leakguard::MemoryBudget(leakguard::BudgetKind::kNet, "lots"), leakguard::BadSize);
}

// A test's peak budget around an EXPECT_MEMORY_WITHIN: each sees its own high point, and the
// outer one also the inner one's.
TEST(Budgets, PeakBudgetsNest) {
  leakguard::TraceScope scope;
  leakguard::MemoryBudget outer(leakguard::BudgetKind::kPeak, 100000);
  void* before = std::malloc(30000);
  keep(before);
  std::free(before);
  {
    leakguard::MemoryBudget inner(leakguard::BudgetKind::kPeak, 50000);
    void* big = std::malloc(60000);
    keep(big);
    std::free(big);
    const leakguard::BudgetResult in = inner.check();
    EXPECT_TRUE(in.exceeded);
    EXPECT_GE(in.used, 60000);
    ASSERT_TRUE(in.crossing.has_value());
  }
  void* after = std::malloc(120000);  // crosses the outer budget once the watch is back with it
  keep(after);
  std::free(after);
  const leakguard::BudgetResult out = outer.check();
  EXPECT_TRUE(out.exceeded);
  EXPECT_GE(out.used, 120000);
  EXPECT_LT(out.used, 130000);
  ASSERT_TRUE(out.crossing.has_value());
}

TEST(Budgets, AnOuterPeakBudgetSeesTheInnerOnesHighPoint) {
  leakguard::TraceScope scope;
  leakguard::MemoryBudget outer(leakguard::BudgetKind::kPeak, 1000000);
  {
    leakguard::MemoryBudget inner(leakguard::BudgetKind::kPeak, 1000000);
    void* big = std::malloc(200000);
    keep(big);
    std::free(big);
    EXPECT_FALSE(inner.check().exceeded);
  }
  const leakguard::BudgetResult out = outer.check();
  EXPECT_FALSE(out.exceeded);
  EXPECT_GE(out.used, 200000);
  EXPECT_LT(out.used, 210000);
}

TEST(Budgets, AnUncheckedBudgetEndsQuietly) {
  leakguard::TraceScope scope;
  {
    leakguard::MemoryBudget budget(leakguard::BudgetKind::kPeak, 1);
    void* p = std::malloc(1000);
    keep(p);
    std::free(p);
  }  // no check(): the destructor disarms the watch and throws nothing
  leakguard::MemoryBudget again(leakguard::BudgetKind::kPeak, 1 << 20);
  EXPECT_FALSE(again.check().exceeded);
}

}  // namespace
