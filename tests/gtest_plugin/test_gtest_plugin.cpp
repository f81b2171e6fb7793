// The GoogleTest plugin on a real test binary (sample_tests): a leaking test fails at the
// allocating line with the report, clean tests pass, caches and gtest's own records do not count.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "../output_checks.hpp"
#include "../robustness/run_command.hpp"

namespace {

lgtest::CommandRun run_sample(const std::string& filter, const std::string& extra = "", const std::string& mode = "") {
  const std::string env = mode.empty() ? "env -u LEAKGUARD_START -u LEAKGUARD_MODE"
                                        : "env -u LEAKGUARD_START LEAKGUARD_MODE=" + mode;
  return lgtest::run_command(env + " " + LEAKGUARD_SAMPLE_TESTS + " --gtest_filter=" + filter + " " + extra + " 2>&1");
}

using lgtest::contains;
using lgtest::count;
using lgtest::printed_line;

TEST(GtestPlugin, ALeakingTestFailsAtTheAllocatingLine) {
  const auto run = run_sample("Sample.LeaksABuffer");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  const auto at = run.output.find("leak line ");
  ASSERT_NE(at, std::string::npos) << run.output;
  const std::string line = run.output.substr(at + 10, run.output.find('\n', at) - at - 10);
  EXPECT_TRUE(contains(run.output, "sample_tests.cpp:" + line + ": Failure\n")) << run.output;
  EXPECT_TRUE(contains(run.output, "leakguard: leak: +256.0 KiB in +1 block\n")) << run.output;
  EXPECT_TRUE(contains(run.output, "char* buffer = new char[256 * 1024]; g_leak_line = __LINE__;")) << run.output;
  EXPECT_TRUE(contains(run.output, "at (anonymous namespace)::lose_a_buffer()")) << run.output;
  EXPECT_TRUE(contains(run.output, "[  FAILED  ] Sample.LeaksABuffer")) << run.output;
  // --gtest_brief came in 1.11 (no macro tells 1.11 from 1.10); 1.10 answers an unknown
  // --gtest_ flag with its help text and runs nothing.
  const auto brief = run_sample("Sample.LeaksABuffer:Sample.CleansUp", "--gtest_brief=1");
  if (!contains(brief.output, "This program contains tests written using Google Test.")) {
    EXPECT_EQ(brief.exit_code, 1) << brief.output;
    EXPECT_TRUE(contains(brief.output, "leakguard: leak: +256.0 KiB in +1 block\n")) << brief.output;
    EXPECT_TRUE(contains(brief.output, "[  FAILED  ] Sample.LeaksABuffer (")) << brief.output;
    EXPECT_FALSE(contains(brief.output, "Sample.CleansUp")) << "brief shows failures only\n" << brief.output;
  }
#ifdef GTEST_FLAG_GET  // GoogleTest 1.12 and later: brief must be there
  EXPECT_FALSE(contains(brief.output, "This program contains tests written using Google Test.")) << brief.output;
#endif
}

TEST(GtestPlugin, CleanTestsCachesAndGtestsOwnRecordsPass) {
  const auto run = run_sample("Sample.CleansUp:Sample.FillsACache");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "[  PASSED  ] 2 tests.")) << run.output;
  EXPECT_FALSE(contains(run.output, "leakguard:")) << run.output;
  // A failing test with a trace and a message: gtest keeps those records, which are not leaks.
  const auto failing = run_sample("Sample.FailsAndTracesWithoutLeaking");
  EXPECT_EQ(failing.exit_code, 1) << failing.output;
  EXPECT_FALSE(contains(failing.output, "leakguard:")) << failing.output;
}

TEST(GtestPlugin, LeakFiguresAreXmlProperties) {
  const std::string xml = ::testing::TempDir() + "/lg_gtest_plugin_" + std::to_string(::getpid()) + ".xml";
  const auto run = run_sample("Sample.LeaksABuffer:Sample.CleansUp", "--gtest_output=xml:" + xml);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  const auto content = lgtest::run_command("cat " + xml).output;
  EXPECT_TRUE(contains(content, "<property name=\"leakguard_leaked_bytes\" value=\"262144\"/>")) << content;
  EXPECT_TRUE(contains(content, "<property name=\"leakguard_leaked_blocks\" value=\"1\"/>")) << content;
  EXPECT_TRUE(contains(content, "<property name=\"leakguard_leaked_bytes\" value=\"0\"/>")) << content;
  std::remove(xml.c_str());
  // The report asked for through the environment, as ctest setups often do.
  const auto by_env = run_sample("Sample.LeaksABuffer", "", "fail GTEST_OUTPUT=xml:" + xml);
  EXPECT_EQ(by_env.exit_code, 1) << by_env.output;
  const auto from_env = lgtest::run_command("cat " + xml).output;
  EXPECT_TRUE(contains(from_env, "<property name=\"leakguard_leaked_bytes\" value=\"262144\"/>")) << from_env;
  std::remove(xml.c_str());
}



TEST(GtestPlugin, NoLeakMacrosReportTheStatementsLeakOnce) {
  const auto run = run_sample("Macros.NoLeakPassesAndFails");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  const std::string line = printed_line(run.output, "macro leak line ");
  EXPECT_TRUE(contains(run.output, "sample_tests.cpp:" + line + ": Failure\n\nleakguard: the statement leaked: +300.0 KiB in +1 block\n"))
      << run.output;
  EXPECT_TRUE(contains(run.output, "\ncontext from the user\n")) << run.output;
  EXPECT_EQ(count(run.output, ": Failure"), 1u) << "the listener must not report the macro's leak again\n" << run.output;
  EXPECT_FALSE(contains(run.output, "at leakguard::")) << "leakguard's own frames fold away\n" << run.output;

  const auto stopped = run_sample("Macros.AssertNoLeakStopsTheTest");
  EXPECT_EQ(stopped.exit_code, 1) << stopped.output;
  EXPECT_TRUE(contains(stopped.output, "leakguard: the statement leaked: +200.0 KiB in +1 block")) << stopped.output;
  EXPECT_FALSE(contains(stopped.output, "not reached")) << stopped.output;
}

// off: nothing traced, the macros pass. report: shown on stderr, nothing fails. strict: the
// statement's reachable growth fails too.
TEST(GtestPlugin, MacrosFollowTheMode) {
  const auto off = run_sample("Macros.*", "", "off");
  EXPECT_EQ(off.exit_code, 0) << off.output;
  EXPECT_FALSE(contains(off.output, "leakguard")) << off.output;
  const auto report = run_sample("Macros.*", "", "report");
  EXPECT_EQ(report.exit_code, 0) << report.output;
  EXPECT_TRUE(contains(report.output, "leakguard: the statement leaked: +300.0 KiB in +1 block\n")) << report.output;
  EXPECT_TRUE(contains(report.output, "leakguard: peak over budget: +8.0 KiB in +1 block (budget 1.0 KiB)\n")) << report.output;
  const auto strict = run_sample("Macros.StrictCountsReachableGrowth", "", "strict");
  EXPECT_EQ(strict.exit_code, 1) << strict.output;
  EXPECT_TRUE(contains(strict.output, "leakguard: the statement grew (strict mode): +")) << strict.output;
  EXPECT_EQ(count(strict.output, ": Failure"), 1u) << "reported by the macro only\n" << strict.output;
  EXPECT_EQ(run_sample("Macros.StrictCountsReachableGrowth").exit_code, 0) << "reachable: passes by default";
}

TEST(GtestPlugin, MemoryWithinMacrosReportTheCrossing) {
  const auto run = run_sample("Macros.MemoryWithin");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  const std::string line = printed_line(run.output, "budget line ");
  EXPECT_TRUE(contains(run.output, "sample_tests.cpp:" + line + ": Failure\nleakguard: peak over budget: +8.0 KiB in +1 block (budget 1.0 KiB)\n"))
      << run.output;
  EXPECT_TRUE(contains(run.output, "  crossed by this allocation:\n")) << run.output;
  EXPECT_EQ(count(run.output, ": Failure"), 1u) << "the 64 KiB and net budgets hold\n" << run.output;
}

// A small object from the heap's recycled chunks, alone in its process as ctest runs it: every
// time, at its line.
TEST(GtestPlugin, ASmallLeakIsCaughtEveryTime) {
  for (int run = 0; run < 5; ++run) {
    const auto leaks = run_sample("Sample.LeaksASmallObject");
    ASSERT_EQ(leaks.exit_code, 1) << "run " << run << "\n" << leaks.output;
    const std::string line = printed_line(leaks.output, "small leak line ");
    EXPECT_TRUE(contains(leaks.output, "sample_tests.cpp:" + line + ": Failure\nleakguard: leak: +48 B in +1 block\n"))
        << leaks.output;
  }
}

TEST(GtestPlugin, WhatAJoinedThreadDroppedIsTheTestsLeak) {
  for (int run = 0; run < 3; ++run) {
    const auto leaks = run_sample("Threads.LeaksInAJoinedThread");
    ASSERT_EQ(leaks.exit_code, 1) << "run " << run << "\n" << leaks.output;
    EXPECT_TRUE(contains(leaks.output, "leakguard: leak: +144 B in +2 blocks\n")) << leaks.output;
  }
}

TEST(GtestPlugin, NetMemoryWithinFailsOnTheStatementsGrowth) {
  const auto run = run_sample("Macros.NetMemoryWithinFails");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  const std::string line = printed_line(run.output, "net line ");
  EXPECT_TRUE(contains(run.output, "sample_tests.cpp:" + line + ": Failure\nleakguard: net growth over budget: +64.")) << run.output;
  EXPECT_TRUE(contains(run.output, "(budget 4.0 KiB)")) << run.output;
  EXPECT_EQ(count(run.output, ": Failure"), 1u) << "the macro's failure only\n" << run.output;
}

TEST(GtestPlugin, ModesFromTheEnvironment) {
  // report: the leak is shown on stderr and nothing fails.
  const auto report = run_sample("Sample.LeaksABuffer", "", "report");
  EXPECT_EQ(report.exit_code, 0) << report.output;
  EXPECT_TRUE(contains(report.output, "Sample.LeaksABuffer: leakguard: leak: +256.0 KiB in +1 block\n")) << report.output;
  // off: nothing is checked.
  const auto off = run_sample("Sample.LeaksABuffer", "", "off");
  EXPECT_EQ(off.exit_code, 0) << off.output;
  EXPECT_FALSE(contains(off.output, "leakguard")) << off.output;
  // strict: reachable growth of the user's fails too, the framework's records still do not.
  const auto strict = run_sample("Sample.FillsACache:Sample.CleansUp", "", "strict");
  EXPECT_EQ(strict.exit_code, 1) << strict.output;
  EXPECT_TRUE(contains(strict.output, "leakguard: growth (strict mode): ")) << strict.output;
  EXPECT_TRUE(contains(strict.output, "[  FAILED  ] Sample.FillsACache")) << strict.output;
  EXPECT_FALSE(contains(strict.output, "[  FAILED  ] Sample.CleansUp")) << strict.output;
  const auto strict_noise = run_sample("Sample.FailsAndTracesWithoutLeaking", "", "strict");
  EXPECT_FALSE(contains(strict_noise.output, "leakguard:")) << strict_noise.output;
  // A bad value is named, and the default rule applies.
  const auto bad = run_sample("Sample.LeaksABuffer", "", "loud");
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_TRUE(contains(bad.output,
                       "leakguard: LEAKGUARD_MODE='loud' is not a mode (expected off, report, fail or strict); using fail\n"))
      << bad.output;
}

// Every setting also as a --leakguard_ flag, which wins over the environment.
TEST(GtestPlugin, SettingsAsFlagsOnTheCommandLine) {
  const auto strict = run_sample("Sample.FillsACache", "--leakguard_mode=strict");
  EXPECT_EQ(strict.exit_code, 1) << strict.output;
  EXPECT_TRUE(contains(strict.output, "leakguard: growth (strict mode): ")) << strict.output;
  const auto wins = run_sample("Sample.FillsACache", "--leakguard_mode=fail", "strict");
  EXPECT_EQ(wins.exit_code, 0) << "the flag wins over LEAKGUARD_MODE\n" << wins.output;
  const auto report = run_sample("Macros.NoLeakPassesAndFails:Sample.LeaksABuffer", "--leakguard_mode=report");
  EXPECT_EQ(report.exit_code, 0) << "the statement assertions follow it too\n" << report.output;
  EXPECT_TRUE(contains(report.output, "leakguard: the statement leaked: ")) << report.output;
  const auto off = run_sample("Sample.LeaksABuffer", "--leakguard_mode=off");
  EXPECT_EQ(off.exit_code, 0) << off.output;
  EXPECT_FALSE(contains(off.output, "leakguard")) << off.output;

  const auto net = run_sample("Sample.FillsACache", "--leakguard_net_budget=16B");
  EXPECT_EQ(net.exit_code, 1) << net.output;
  EXPECT_TRUE(contains(net.output, "leakguard: net growth over the test's budget: ")) << net.output;
  const auto peak = run_sample("Sample.CleansUp", "'--leakguard_peak_budget=1 KiB'");
  EXPECT_EQ(peak.exit_code, 1) << peak.output;
  EXPECT_TRUE(contains(peak.output, "leakguard: peak over budget: ")) << peak.output;
  const auto noted = run_sample("Sample.FillsACache", "--leakguard_held_note=64");
  EXPECT_TRUE(contains(noted.output, "leakguard: Sample.FillsACache holds ")) << noted.output;
  const auto skipped = run_sample("Sample.LeaksABuffer", "--leakguard_skip=Sample.Leaks*");
  EXPECT_EQ(skipped.exit_code, 0) << skipped.output;
  const auto repeated = run_sample("Repeat.GrowsAGlobalEveryRun", "--leakguard_repeat=3");
  EXPECT_EQ(count(repeated.output, "Repeating all tests (iteration "), 3u) << repeated.output;
  EXPECT_TRUE(contains(repeated.output, "leakguard: growth in every repeated run after the first (")) << repeated.output;

  const std::string file = "/tmp/leakguard-flag-supp-" + std::to_string(::getpid());
  lgtest::run_command("printf 'leak:suppressed_leaker\\n' > " + file);
  const auto suppressed = run_sample("Opts.LeaksInASuppressedFunction", "--leakguard_suppressions=" + file);
  EXPECT_EQ(suppressed.exit_code, 0) << suppressed.output;
  std::remove(file.c_str());

  const auto bad = run_sample("Sample.CleansUp", "--leakguard_mode=loud --leakguard_repeat=0 --leakguard_colour=on");
  EXPECT_EQ(bad.exit_code, 0) << bad.output;
  EXPECT_TRUE(contains(bad.output, "leakguard: --leakguard_mode='loud' is not a mode (expected off, report, fail or strict); ignored\n"))
      << bad.output;
  EXPECT_TRUE(contains(bad.output, "leakguard: --leakguard_repeat='0' is not a number of runs (1 or more); ignored\n"))
      << bad.output;
  EXPECT_TRUE(contains(bad.output, "leakguard: unknown flag --leakguard_colour=on (")) << bad.output;
}

TEST(GtestPlugin, ABlockAnotherThreadFreesJustAfterTheTestDoesNotFailIt) {
  // Strict mode would count the handed-over block; the check retries with a backoff and sees it go.
  for (int run = 0; run < 5; ++run) {
    const auto strict = run_sample("Threads.ABlockFreed*", "", "strict");
    ASSERT_EQ(strict.exit_code, 0) << "run " << run << "\n" << strict.output;
    // So would a net budget the block is over.
    const auto budget = run_sample("Threads.ABlockFreed*", "", "fail LEAKGUARD_NET_BUDGET=100");
    ASSERT_EQ(budget.exit_code, 0) << "run " << run << "\n" << budget.output;
  }
}

TEST(GtestPlugin, OptOutsExpectedLeaksAndSuppressions) {
  const auto passing = run_sample("Opts.SkipsItsCheck:Opts.LeaksTwoOnPurpose");
  EXPECT_EQ(passing.exit_code, 0) << passing.output;
  EXPECT_FALSE(contains(passing.output, "leakguard:")) << passing.output;

  const auto too_many = run_sample("Opts.AllowsOneButLeaksThree");
  EXPECT_EQ(too_many.exit_code, 1) << too_many.output;
  EXPECT_TRUE(contains(too_many.output, " blocks where at most 1 were expected: +")) << too_many.output;

  EXPECT_EQ(run_sample("Opts.LeaksInASuppressedFunction").exit_code, 1);
  const std::string file = ::testing::TempDir() + "/lg_supp_" + std::to_string(::getpid()) + ".txt";
  lgtest::run_command("printf '# vendored code\\nleak:suppressed_leaker\\n' > " + file);
  const auto suppressed = run_sample("Opts.LeaksInASuppressedFunction", "", "fail LEAKGUARD_SUPPRESSIONS=" + file);
  EXPECT_EQ(suppressed.exit_code, 0) << suppressed.output;
  lgtest::run_command("printf 'leak:ok\\nwhat is this\\n' > " + file);
  const auto bad = run_sample("Opts.LeaksInASuppressedFunction", "", "fail LEAKGUARD_SUPPRESSIONS=" + file);
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_TRUE(contains(bad.output, "leakguard: suppressions '" + file +
                                       "', line 2: 'what is this' is not of the form leak:<pattern>; no suppression applies\n"))
      << bad.output;
  std::remove(file.c_str());
}

TEST(GtestPlugin, RepeatedRunsCatchAGlobalContainerThatGrowsEveryRun) {
  const auto single = run_sample("Repeat.*");
  EXPECT_EQ(single.exit_code, 0) << "one run: the growth is reachable, not a leak\n" << single.output;
  const auto repeated = run_sample("Repeat.*", "--gtest_repeat=4");
  EXPECT_EQ(repeated.exit_code, 1) << repeated.output;
  // Three runs after the first, each with its growth (the container's own buffer moves too).
  EXPECT_TRUE(contains(repeated.output, "leakguard: growth in every repeated run after the first (+")) << repeated.output;
  EXPECT_TRUE(contains(repeated.output, "g_registry.push_back(new int[64]);")) << "the site's source line\n" << repeated.output;
  EXPECT_EQ(count(repeated.output, "[  FAILED  ] Repeat.GrowsAGlobalEveryRun ("), 1u) << "only its last run fails\n" << repeated.output;
  EXPECT_FALSE(contains(repeated.output, "[  FAILED  ] Repeat.FillsALazyStaticOnce")) << repeated.output;
  // The rule judges net growth: a run that replaces what the run before made does not grow.
  EXPECT_FALSE(contains(repeated.output, "[  FAILED  ] Repeat.ReplacesAGlobalEveryRun")) << repeated.output;
  EXPECT_FALSE(contains(repeated.output, "[  FAILED  ] Repeat.KeepsABoundedHistory")) << repeated.output;
  // LEAKGUARD_REPEAT asks for the same runs from the environment.
  const auto from_env = run_sample("Repeat.*", "", "fail LEAKGUARD_REPEAT=4");
  EXPECT_EQ(count(from_env.output, "Repeating all tests (iteration "), 4u) << from_env.output;
  EXPECT_EQ(count(from_env.output, "[  FAILED  ] Repeat.GrowsAGlobalEveryRun ("), 1u) << from_env.output;
  EXPECT_TRUE(contains(repeated.output, "leakguard: Repeat.FillsALazyStaticOnce grew in its first run only (+2.0 KiB): "
                                        "a lazy static or first-use cache, not a leak\n"))
      << repeated.output;
}

TEST(GtestPlugin, ListingTestsPrintsNothingElse) {
  const auto run = lgtest::run_command(std::string(LEAKGUARD_SAMPLE_TESTS) + " --gtest_list_tests 2>/dev/null");
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.output,
            "Sample.\n  LeaksABuffer\n  LeaksASmallObject\n  CleansUp\n  FillsACache\n  FailsAndTracesWithoutLeaking\n"
            "Macros.\n  NoLeakPassesAndFails\n  AssertNoLeakStopsTheTest\n  StrictCountsReachableGrowth\n  MemoryWithin\n"
            "  NetMemoryWithinFails\n"
            "Threads.\n  LeaksInAJoinedThread\n  ABlockFreedByABackgroundThreadSoonAfterTheTest\n"
            "Opts.\n  SkipsItsCheck\n  LeaksTwoOnPurpose\n  AllowsOneButLeaksThree\n  LeaksInASuppressedFunction\n"
            "  IgnoresAnObject\n  LeaksInsideAnUntracedScope\n"
            "Repeat.\n  GrowsAGlobalEveryRun\n  FillsALazyStaticOnce\n  ReplacesAGlobalEveryRun\n  KeepsABoundedHistory\n"
            "Budget.\n  NetGrowthOverTheTestsBudget\n  NetGrowthWithinTheTestsBudget\n  PeakOverTheTestsBudget\n"
            "  PeakWithinTheTestsBudgetAroundAMemoryWithin\n"
            "Unchecked.\n  LeaksFreely\n"
            "Noise.\n  RuntimeAndFrameworkFirstUse\n"
            "Edge.\n  LeaksThenSkips\n  ThrowsOutOfTheTest\n  DiesInAChildThatLeaks\n  LeaksAfterADeathTest\n"
            "  StaticInitialisationIsTraced\n"
            "Crash.\n  AbortsTheRun\n"
            "Typed/0.  # TypeParam = int\n  LeaksForDoubleOnly\n"
            "Typed/1.  # TypeParam = double\n  LeaksForDoubleOnly\n"
            "TypedUnchecked/0.  # TypeParam = int\n  Leaks\n"
            "TypedUnchecked/1.  # TypeParam = double\n  Leaks\n"
            "My/TypeParamUnchecked/0.  # TypeParam = int\n  Leaks\n"
            "My/TypeParamUnchecked/1.  # TypeParam = double\n  Leaks\n"
            "Fixture.\n  LeaksInSetUp\n  LeaksInTearDown\n  FreesInItsDestructor\n"
            "Each/Sizes.\n  LeaksOnlyForTwo/0  # GetParam() = 1\n  LeaksOnlyForTwo/1  # GetParam() = 2\n"
            "  LeaksOnlyForTwo/2  # GetParam() = 3\n");
}

// The names of the tests GoogleTest reported as failed, in the order of its summary.
std::vector<std::string> failed_tests(const std::string& output) {
  std::vector<std::string> names;
  const std::string mark = "[  FAILED  ] ";
  const auto summary = output.find(" listed below:\n");
  if (summary == std::string::npos) return names;
  for (auto at = output.find(mark, summary); at != std::string::npos; at = output.find(mark, at + 1)) {
    const auto end = output.find_first_of(",\n", at);
    names.push_back(output.substr(at + mark.size(), end - at - mark.size()));
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(GtestPlugin, BudgetsPerTestAndFromTheEnvironment) {
  const auto run = run_sample("Budget.*");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  const std::vector<std::string> expected = {"Budget.NetGrowthOverTheTestsBudget", "Budget.PeakOverTheTestsBudget",
                                             "Budget.PeakWithinTheTestsBudgetAroundAMemoryWithin"};
  EXPECT_EQ(failed_tests(run.output), expected) << run.output;
  // The net budget fails reachable growth at the allocating line; the peak one at the crossing.
  EXPECT_TRUE(contains(run.output, "sample_tests.cpp:" + printed_line(run.output, "net budget line ") +
                                       ": Failure\nleakguard: net growth over the test's budget: +200.0 KiB"))
      << run.output;
  EXPECT_TRUE(contains(run.output, "sample_tests.cpp:" + printed_line(run.output, "peak budget line ") +
                                       ": Failure\nleakguard: peak over budget: +2.0 MiB in +1 block (budget 1.0 MiB)"))
      << run.output;
  // Around a statement's tighter budget, only the statement's fails.
  EXPECT_EQ(count(run.output, "(budget 4.0 MiB)"), 0u) << run.output;

  // From the environment, for every test; a test's own budget replaces it.
  const auto net = run_sample("Sample.FillsACache:Budget.NetGrowthWithinTheTestsBudget", "",
                              "fail LEAKGUARD_NET_BUDGET=16B");
  EXPECT_EQ(failed_tests(net.output), std::vector<std::string>{"Sample.FillsACache"}) << net.output;
  EXPECT_TRUE(contains(net.output, "leakguard: net growth over the test's budget: ")) << net.output;
  const auto peak = run_sample("Sample.CleansUp:Macros.MemoryWithin", "", "fail LEAKGUARD_PEAK_BUDGET=2KiB");
  EXPECT_TRUE(contains(peak.output, "(budget 2.0 KiB)")) << peak.output;
  EXPECT_EQ(count(peak.output, "[  FAILED  ] Sample.CleansUp ("), 1u) << peak.output;
  const auto bad = run_sample("Sample.CleansUp", "", "fail LEAKGUARD_NET_BUDGET=lots");
  EXPECT_EQ(bad.exit_code, 0) << bad.output;
  EXPECT_TRUE(contains(bad.output, "leakguard: LEAKGUARD_NET_BUDGET='lots' is not a size (")) << bad.output;
}

TEST(GtestPlugin, SuiteAndNameOptOutsAndScopedEscapes) {
  const auto run = run_sample("Unchecked.*:TypedUnchecked/*:My/TypeParamUnchecked/*:Opts.IgnoresAnObject:"
                              "Opts.LeaksInsideAnUntracedScope");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_FALSE(contains(run.output, "leakguard:")) << run.output;
  const auto by_name = run_sample("Sample.LeaksABuffer", "", "fail LEAKGUARD_SKIP=Other.*:Sample.Leaks*");
  EXPECT_EQ(by_name.exit_code, 0) << by_name.output;
}

TEST(GtestPlugin, RuntimeAndFrameworkNoiseNeverFails) {
  for (const char* mode : {"fail", "strict"}) {
    const auto run = run_sample("Noise.*", "", mode);
    EXPECT_EQ(run.exit_code, 0) << mode << "\n" << run.output;
    EXPECT_FALSE(contains(run.output, "leakguard:")) << mode << "\n" << run.output;
  }
}

// Strict: any growth of the user's fails, the lazy static's too (and, in a single run, the
// first config object and history entry).
TEST(GtestPlugin, StrictModeFailsAGlobalContainerThatGrowsInASingleRun) {
  const auto run = run_sample("Repeat.*", "", "strict");
  const std::vector<std::string> expected = {"Repeat.FillsALazyStaticOnce", "Repeat.GrowsAGlobalEveryRun",
                                             "Repeat.KeepsABoundedHistory", "Repeat.ReplacesAGlobalEveryRun"};
  EXPECT_EQ(failed_tests(run.output), expected) << run.output;
  EXPECT_TRUE(contains(run.output, "leakguard: growth (strict mode): +264 B in +2 blocks\n")) << run.output;
}

TEST(GtestPlugin, SkippedThrowingAndDeathTests) {
  const auto skipped = run_sample("Edge.LeaksThenSkips");
  EXPECT_EQ(skipped.exit_code, 0) << skipped.output;
  EXPECT_TRUE(contains(skipped.output, "[  SKIPPED ] Edge.LeaksThenSkips")) << skipped.output;
  EXPECT_FALSE(contains(skipped.output, "leakguard:")) << skipped.output;

  // Tracing starts when the program loads, before static constructors.
  const auto static_init = run_sample("Edge.StaticInitialisationIsTraced");
  EXPECT_EQ(static_init.exit_code, 0) << static_init.output;

  const auto thrown = run_sample("Edge.ThrowsOutOfTheTest");
  EXPECT_EQ(thrown.exit_code, 1) << thrown.output;
  EXPECT_TRUE(contains(thrown.output, "C++ exception with description \"out of the test\"")) << thrown.output;
  EXPECT_FALSE(contains(thrown.output, "leakguard:")) << "the exception and its unwinding leak nothing\n" << thrown.output;

  for (const char* style : {"fast", "threadsafe"}) {
    const std::string flag = std::string("--gtest_death_test_style=") + style;
    const auto dies = run_sample("Edge.DiesInAChildThatLeaks", flag);
    EXPECT_EQ(dies.exit_code, 0) << style << "\n" << dies.output;
    EXPECT_FALSE(contains(dies.output, "leakguard:")) << style << "\n" << dies.output;
    const auto after = run_sample("Edge.LeaksAfterADeathTest", flag);
    EXPECT_EQ(failed_tests(after.output), std::vector<std::string>{"Edge.LeaksAfterADeathTest"}) << style << "\n" << after.output;
    EXPECT_EQ(count(after.output, "leakguard: leak: +160.0 KiB in +1 block\n"), 1u) << style << "\n" << after.output;
  }
}

TEST(GtestPlugin, ParameterizedAndTypedTests) {
  const auto param = run_sample("Each/Sizes.*");
  EXPECT_EQ(failed_tests(param.output), std::vector<std::string>{"Each/Sizes.LeaksOnlyForTwo/1"}) << param.output;
  const auto typed = run_sample("Typed/*");
  EXPECT_EQ(failed_tests(typed.output), std::vector<std::string>{"Typed/1.LeaksForDoubleOnly"}) << typed.output;
}

// Each test is judged by its own window whatever runs before it, in one process or across shards:
// no test outside the leaking ones ever fails. Several tests in one process can hide a leak (a
// stale copy of its address in the unused part of a live chunk makes it look held, the safe
// direction), so a leak need only be caught under some of the orders.
TEST(GtestPlugin, ShuffledAndShardedRunsFindTheSameLeaks) {
  const std::string tests = "Sample.LeaksABuffer:Sample.CleansUp:Sample.FillsACache:Opts.AllowsOneButLeaksThree:"
                            "Repeat.*:Budget.NetGrowthWithinTheTestsBudget:Typed/*:Each/Sizes.*";
  const std::vector<std::string> expected = {"Each/Sizes.LeaksOnlyForTwo/1", "Opts.AllowsOneButLeaksThree",
                                             "Sample.LeaksABuffer", "Typed/1.LeaksForDoubleOnly"};
  std::vector<std::string> caught;
  auto gather = [&](const lgtest::CommandRun& run, const std::string& how) {
    for (const std::string& name : failed_tests(run.output)) {
      EXPECT_NE(std::find(expected.begin(), expected.end(), name), expected.end()) << how << ": " << name << "\n" << run.output;
      if (std::find(caught.begin(), caught.end(), name) == caught.end()) caught.push_back(name);
    }
  };
  for (const int seed : {1, 2, 3, 4, 5, 6}) {
    gather(run_sample(tests, "--gtest_shuffle --gtest_random_seed=" + std::to_string(seed)), "seed " + std::to_string(seed));
  }
  std::sort(caught.begin(), caught.end());
  EXPECT_EQ(caught, expected);

  caught.clear();
  std::size_t ran = 0;
  for (const int shard : {0, 1}) {
    const auto run = run_sample(tests, "", "fail GTEST_TOTAL_SHARDS=2 GTEST_SHARD_INDEX=" + std::to_string(shard));
    ran += count(run.output, "[ RUN      ] ");
    gather(run, "shard " + std::to_string(shard));
  }
  EXPECT_EQ(ran, 14u) << "the shards split the 14 tests between them";
  std::sort(caught.begin(), caught.end());
  EXPECT_EQ(caught, expected);
}

// A fixture's SetUp, TearDown and destructor run inside the test's window.
TEST(GtestPlugin, AFixturesSetUpAndTearDownAreTheTests) {
  const auto run = run_sample("Fixture.*");
  EXPECT_EQ(failed_tests(run.output), (std::vector<std::string>{"Fixture.LeaksInSetUp", "Fixture.LeaksInTearDown"}))
      << run.output;
  EXPECT_EQ(count(run.output, "leakguard: leak: +160.0 KiB in +1 block\n"), 2u) << run.output;
}

}  // namespace
