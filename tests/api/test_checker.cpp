// The per-test controller the plugins share, driven directly: what each rule finds, where it
// points, and the settings that change it.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "fake_framework.hpp"
#include "test_support.hpp"

namespace {

using lgtest::keep;

// Allocations 20 frames down: their dead frames lie below the check, which wipes them.
template <class Fn>
__attribute__((noinline)) void deep(int depth, Fn&& fn) {
  if (depth > 0) {
    deep(depth - 1, fn);
  } else {
    fn();
  }
  asm volatile("" ::: "memory");
}

int g_line = 0;
std::vector<char*> g_held;  // reachable growth

void lose_a_block() {
  deep(20, [] {
    char* p = new char[200 * 1024]; g_line = __LINE__;
    keep(p);
  });
}

leakguard::TestOutcome run_test(leakguard::TestChecker& checker, const std::string& name, void (*body)()) {
  leakguard::TestOutcome outcome;
  checker.begin_test(name);
  body();
  checker.end_test(false, [&outcome](const leakguard::TestOutcome& o) { outcome = o; });
  return outcome;
}

struct Checker : ::testing::Test {
  Checker() { g_held.reserve(64); }  // the container's own regrowth is not what the tests count
  leakguard::TraceScope scope{16};
  leakguard::TestSettings settings;
};

TEST(NameMatches, GtestFilterPatterns) {
  EXPECT_TRUE(leakguard::name_matches("Suite.*", "Suite.Test"));
  EXPECT_TRUE(leakguard::name_matches("Other.Name:Suite.*", "Other.Name"));
  EXPECT_FALSE(leakguard::name_matches("Other.Name", "Other.Names"));
  EXPECT_TRUE(leakguard::name_matches("Su?te.T*", "Suite.Test"));
  EXPECT_TRUE(leakguard::name_matches("*/Suite.*", "Each/Suite.Test/0"));
  EXPECT_FALSE(leakguard::name_matches("Suite.*", "Each/Suite.Test/0"));
  EXPECT_FALSE(leakguard::name_matches("", "Suite.Test"));
}

TEST_F(Checker, ALeakFailsAtTheAllocatingLine) {
  leakguard::TestChecker checker(settings);
  const auto outcome = run_test(checker, "T.Leaks", lose_a_block);
  ASSERT_TRUE(outcome.checked);
  EXPECT_TRUE(outcome.failed());
  EXPECT_EQ(outcome.leaked_blocks, 1u);
  EXPECT_EQ(outcome.leaked_bytes, 200u * 1024);
  ASSERT_EQ(outcome.findings.size(), 1u);
  EXPECT_EQ(outcome.findings[0].line, g_line);
  EXPECT_NE(outcome.findings[0].file.find("test_checker.cpp"), std::string::npos) << outcome.findings[0].file;
  EXPECT_EQ(outcome.findings[0].text.rfind("leakguard: leak: +200.0 KiB in +1 block\n", 0), 0u) << outcome.findings[0].text;
}

void loses_a_framework_record() {
  deep(20, [] { keep(fake_framework::new_record()); });
}

// A block the test framework lost (its code allocated it: the plugin names that code) is never the
// test's leak; the same block lost by the test's own code is.
TEST_F(Checker, ALeakOfTheFrameworksOwnNeverFailsATest) {
  leakguard::TestChecker checker(settings);
  const auto before = run_test(checker, "T.FrameworkLeaks", loses_a_framework_record);
  EXPECT_TRUE(before.failed()) << "not yet declared: it is the test's";
  leakguard::declare_test_framework({"fake_framework::"}, {"*/fake_framework.cpp"});
  for (auto mode : {leakguard::CheckMode::kFail, leakguard::CheckMode::kStrict}) {
    settings.mode = mode;
    leakguard::TestChecker strict(settings);
    const auto outcome = run_test(strict, "T.FrameworkLeaks", loses_a_framework_record);
    EXPECT_FALSE(outcome.failed()) << (outcome.findings.empty() ? "" : outcome.findings[0].text);
    EXPECT_EQ(outcome.leaked_blocks, 0u);
  }
  EXPECT_TRUE(run_test(checker, "T.Leaks", lose_a_block).failed());
}

// Nearly every test leaves nothing: its verdict is the empty one, named as a failing one would
// be, in every mode, and with a number of leaks the test said it expects.
TEST_F(Checker, AWindowThatLeftNothingHasTheEmptyVerdictInEveryMode) {
  using leakguard::CheckMode;
  for (const bool expects : {false, true}) {
    for (const CheckMode mode : {CheckMode::kReport, CheckMode::kFail, CheckMode::kStrict}) {
      const leakguard::Checkpoint window;
      if (expects) leakguard::expect_leaked_blocks(2);
      deep(20, [] {
        std::string temporary(300, 'x');
        keep(temporary.data());
      });
      const leakguard::TestVerdict verdict = leakguard::finish_test_window(window, mode);
      EXPECT_FALSE(verdict.failed);
      EXPECT_EQ(verdict.report.what, mode == CheckMode::kStrict && !expects ? "growth (strict mode)" : "leak");
      EXPECT_EQ(verdict.growth.what, "growth");
      for (const leakguard::Report* r : {&verdict.report, &verdict.growth}) {
        EXPECT_TRUE(r->sites.empty());
        EXPECT_EQ(r->total_bytes, 0);
        EXPECT_EQ(r->total_blocks, 0);
        EXPECT_FALSE(r->budget.has_value());
      }
      EXPECT_EQ(verdict.leaked_blocks + verdict.leaked_bytes + verdict.held_blocks + verdict.held_bytes, 0u);
    }
  }
}

TEST_F(Checker, ReportModeFailsNothingAndNamesTheTest) {
  settings.mode = leakguard::CheckMode::kReport;
  leakguard::TestChecker checker(settings);
  const auto outcome = run_test(checker, "T.Leaks", lose_a_block);
  EXPECT_FALSE(outcome.failed());
  ASSERT_EQ(outcome.findings.size(), 1u);
  EXPECT_EQ(outcome.findings[0].text.rfind("T.Leaks: leakguard: leak: ", 0), 0u) << outcome.findings[0].text;
}

TEST_F(Checker, OffAndSkippedTestsAreNotChecked) {
  settings.mode = leakguard::CheckMode::kOff;
  leakguard::TestChecker off(settings);
  EXPECT_FALSE(run_test(off, "T.Leaks", lose_a_block).checked);
  settings.mode = leakguard::CheckMode::kFail;
  settings.skip = {"Skipped.*"};
  leakguard::TestChecker skipping(settings);
  EXPECT_FALSE(run_test(skipping, "Skipped.Leaks", lose_a_block).checked);
  leakguard::skip_leak_checks_for("Registered.*");
  EXPECT_FALSE(run_test(skipping, "Registered.Leaks", lose_a_block).checked);
  const auto said = run_test(skipping, "T.SaysSkip", [] {
    leakguard::skip_leak_check();
    lose_a_block();
  });
  EXPECT_FALSE(said.checked);
}

TEST_F(Checker, HeldGrowthPassesUnlessANetBudgetOrStrictModeSaysOtherwise) {
  auto grow = [] { g_held.push_back(new char[100 * 1024]); };
  {
    leakguard::TestChecker checker(settings);
    const auto outcome = run_test(checker, "T.Holds", grow);
    EXPECT_TRUE(outcome.checked);
    EXPECT_FALSE(outcome.failed());
    EXPECT_TRUE(outcome.findings.empty());
  }
  settings.net_budget = 64 * 1024;
  {
    leakguard::TestChecker checker(settings);
    const auto outcome = run_test(checker, "T.Holds", grow);
    EXPECT_TRUE(outcome.failed());
    ASSERT_EQ(outcome.findings.size(), 1u);
    EXPECT_EQ(outcome.findings[0].text.rfind("leakguard: net growth over the test's budget: +100.0 KiB in +1 block (budget 64.0 KiB)\n", 0), 0u)
        << outcome.findings[0].text;
    // The test's own budget replaces the environment's.
    const auto own = run_test(checker, "T.HoldsWithin", [] {
      leakguard::set_test_net_budget("1 MiB");
      g_held.push_back(new char[100 * 1024]);
    });
    EXPECT_FALSE(own.failed());
  }
  settings.net_budget = -1;
  settings.held_note = 10 * 1024;
  {
    leakguard::TestChecker checker(settings);
    const auto outcome = run_test(checker, "T.Holds", grow);
    EXPECT_FALSE(outcome.failed());
    ASSERT_EQ(outcome.findings.size(), 1u);
    EXPECT_EQ(outcome.findings[0].text,
              "leakguard: T.Holds holds 100.0 KiB in 1 blocks still reachable (caches, statics): not a leak\n");
  }
  settings.mode = leakguard::CheckMode::kStrict;
  {
    leakguard::TestChecker checker(settings);
    EXPECT_TRUE(run_test(checker, "T.Holds", grow).failed());
  }
  for (char* p : g_held) delete[] p;
  g_held.clear();
}

TEST_F(Checker, APeakBudgetFailsAtTheCrossingAllocation) {
  settings.peak_budget = 512 * 1024;
  leakguard::TestChecker checker(settings);
  const auto outcome = run_test(checker, "T.Peaks", [] {
    char* big = new char[1024 * 1024]; g_line = __LINE__;
    keep(big);
    delete[] big;
  });
  EXPECT_TRUE(outcome.failed());
  ASSERT_EQ(outcome.findings.size(), 1u);
  EXPECT_EQ(outcome.findings[0].line, g_line);
  EXPECT_EQ(outcome.findings[0].text.rfind("leakguard: peak over budget: +1.0 MiB in +1 block (budget 512.0 KiB)\n", 0), 0u)
      << outcome.findings[0].text;
  EXPECT_EQ(outcome.leaked_blocks, 0u);
}

// Grows in every run: a leak by the repeated-run rule once the last run is judged. A lazy
// static grows in the first run only.
TEST_F(Checker, RepeatedRunsJudgeAtTheLastIteration) {
  leakguard::TestChecker checker(settings);
  std::vector<leakguard::TestOutcome> grows, once;
  for (int i = 0; i < 4; ++i) {
    checker.begin_iteration(i, 4);
    grows.push_back(run_test(checker, "T.Grows", [] { g_held.push_back(new char[1000]); }));
    once.push_back(run_test(checker, "T.Once", [] {
      static char* table = new char[5000];
      keep(table);
    }));
  }
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(grows[i].failed()) << "run " << i;
  ASSERT_TRUE(grows[3].failed());
  EXPECT_EQ(grows[3].findings[0].text.rfind("leakguard: growth in every repeated run after the first (+", 0), 0u)
      << grows[3].findings[0].text;
  for (const auto& o : once) EXPECT_FALSE(o.failed());
  ASSERT_EQ(once[3].findings.size(), 1u);
  EXPECT_EQ(once[3].findings[0].text,
            "leakguard: T.Once grew in its first run only (+4.9 KiB): a lazy static or first-use cache, not a leak\n");
  for (char* p : g_held) delete[] p;
  g_held.clear();
}

// The repeated-run rule nets what a run freed of the heap from before it (the tracer's departure
// log): a block replaced through realloc, one freed by another thread, and a realloc that failed
// and left its block where it was.
void* g_buffer = nullptr;
char* g_previous = nullptr;
void* g_kept = nullptr;

TEST_F(Checker, RepeatedRunsNetWhatARunFreedOfTheHeapFromBeforeIt) {
  leakguard::TestChecker checker(settings);
  std::vector<leakguard::TestOutcome> resized, grown, handed, failed;
  g_kept = std::malloc(1000);
  for (int i = 0; i < 4; ++i) {
    checker.begin_iteration(i, 4);
    // Moved to another address and back to its size every run: no growth after the first.
    resized.push_back(run_test(checker, "T.Resized", [] {
      g_buffer = std::realloc(g_buffer, 64 * 1024);
      g_buffer = std::realloc(g_buffer, 3000);
    }));
    // Grown by 1000 bytes every run.
    grown.push_back(run_test(checker, "T.Grown", [] {
      static std::size_t size = 0;
      static void* p = nullptr;
      size += 1000;
      p = std::realloc(p, size);
      keep(p);
    }));
    // A new block every run, the previous run's freed by a thread of its own: no growth after
    // the first.
    handed.push_back(run_test(checker, "T.Handed", [] {
      char* previous = g_previous;
      g_previous = new char[1500];
      std::thread([previous] { delete[] previous; }).join();
    }));
    // 1000 bytes more every run; the failed realloc takes nothing away.
    failed.push_back(run_test(checker, "T.FailedRealloc", [] {
      g_held.push_back(new char[1000]);
      void* huge = std::realloc(g_kept, SIZE_MAX / 4);
      EXPECT_EQ(huge, nullptr);
    }));
  }
  for (const auto& o : resized) EXPECT_FALSE(o.failed());
  ASSERT_EQ(resized[3].findings.size(), 1u);
  EXPECT_EQ(resized[3].findings[0].text.rfind("leakguard: T.Resized grew in its first run only (+2.9 KiB)", 0), 0u)
      << resized[3].findings[0].text;
  ASSERT_TRUE(grown[3].failed());
  EXPECT_EQ(grown[3].findings[0].text.rfind(
                "leakguard: growth in every repeated run after the first (+1000 B +1000 B +1000 B)", 0),
            0u)
      << grown[3].findings[0].text;
  for (const auto& o : handed) EXPECT_FALSE(o.failed());
  ASSERT_EQ(handed[3].findings.size(), 1u);
  EXPECT_EQ(handed[3].findings[0].text.rfind("leakguard: T.Handed grew in its first run only (+1.5 KiB)", 0), 0u)
      << handed[3].findings[0].text;
  ASSERT_TRUE(failed[3].failed());
  EXPECT_EQ(failed[3].findings[0].text.rfind(
                "leakguard: growth in every repeated run after the first (+1000 B +1000 B +1000 B)", 0),
            0u)
      << failed[3].findings[0].text;
  std::free(g_buffer);
  std::free(g_kept);
  delete[] g_previous;
  for (char* p : g_held) delete[] p;
  g_held.clear();
}

TEST(CheckerSettings, BadEnvironmentValuesAreNamedAndIgnored) {
  // from_environment() reads once per process; this test runs in its own (ctest runs each alone).
  ::setenv("LEAKGUARD_NET_BUDGET", "lots", 1);
  ::setenv("LEAKGUARD_PEAK_BUDGET", "2 MiB", 1);
  ::setenv("LEAKGUARD_SKIP", "A.*::B.c", 1);
  ::testing::internal::CaptureStderr();
  const leakguard::TestSettings& s = leakguard::TestSettings::from_environment();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(s.net_budget, -1);
  EXPECT_EQ(s.peak_budget, 2 * 1024 * 1024);
  EXPECT_EQ(s.skip, (std::vector<std::string>{"A.*", "B.c"}));
  EXPECT_EQ(err.rfind("leakguard: LEAKGUARD_NET_BUDGET='lots' is not a size (", 0), 0u) << err;
}

}  // namespace
