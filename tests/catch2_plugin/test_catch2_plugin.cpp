// The Catch2 plugin on a real Catch2 program (catch2_sample): a leak in a section fails its test
// case at the allocating line, clean runs and Catch2's own records pass, and every macro and
// control does what catch2.hpp says.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <string>
#include <vector>

#include "../output_checks.hpp"
#include "../robustness/run_command.hpp"

namespace {

// What differs between the Catch2 versions the sample was built with (LEAKGUARD_CATCH2_MAJOR).
#if LEAKGUARD_CATCH2_SAMPLE_MAJOR >= 3
// v3 exits with 42 when a test case failed, whatever their number.
int failed_exit(int /*failed_assertions*/) { return 42; }
const char* const kListNames = "--list-tests --verbosity quiet";
int list_exit(int /*listed*/) { return 0; }
#else
// v2 exits with the number of failed assertions, and its listing with the number of test cases.
int failed_exit(int failed_assertions) { return failed_assertions; }
const char* const kListNames = "--list-test-names-only";
int list_exit(int listed) { return listed; }
#endif

lgtest::CommandRun run_sample(const std::string& spec, const std::string& extra = "", const std::string& env = "") {
  return lgtest::run_command("env -u LEAKGUARD_START -u LEAKGUARD_MODE " + env + " " + LEAKGUARD_CATCH2_SAMPLE + " " +
                             spec + " " + extra + " 2>&1");
}

using lgtest::contains;
using lgtest::count;
using lgtest::printed_line;

// Catch2's console reporter wraps a message at 80 columns, breaking at a space (which it drops) or
// after punctuation, wherever the report's paths happen to end a line (v3 breaks paths too): a
// part that may span lines is looked for with the whitespace taken out of both.
bool contains_wrapped(const std::string& text, const std::string& part) {
  const auto squeezed = [](const std::string& s) {
    std::string out;
    for (const char c : s) {
      if (!std::isspace(static_cast<unsigned char>(c))) out += c;
    }
    return out;
  };
  return contains(squeezed(text), squeezed(part));
}



TEST(Catch2Plugin, ALeakInASectionFailsItsTestCaseAtTheAllocatingLine) {
  const auto run = run_sample("'a section leaks'");
  EXPECT_EQ(run.exit_code, failed_exit(1)) << run.output;
  const std::string line = printed_line(run.output, "leak line ");
  // The failure names the run of the body it was found in: the section it went through.
  EXPECT_TRUE(contains(run.output, "sample_cases.cpp:" + line +
                                       ": FAILED:\nexplicitly with message:\n  leakguard: leak: +200.0 KiB in +1 block (in "
                                       "section \"leaks\")\n"))
      << run.output;
  EXPECT_TRUE(contains_wrapped(run.output, "char* lost = new char[200 * 1024]; g_leak_line = __LINE__;")) << run.output;
  EXPECT_TRUE(contains(run.output, "test cases: 1 | 1 failed")) << run.output;
  EXPECT_EQ(count(run.output, ": FAILED:"), 1u) << "only the run through the leaking section\n" << run.output;
  // The other section alone: its run is clean.
  const auto clean = run_sample("'a section leaks'", "-c clean");
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
}

// The everyday leak, a small object from the heap's recycled chunks, and what a joined thread
// dropped: caught every time.
TEST(Catch2Plugin, SmallLeaksAndAJoinedThreadsAreCaughtEveryTime) {
  for (int run = 0; run < 3; ++run) {
    const auto small = run_sample("'a small object leaks'");
    ASSERT_EQ(small.exit_code, failed_exit(1)) << "run " << run << "\n" << small.output;
    const std::string line = printed_line(small.output, "small leak line ");
    EXPECT_TRUE(contains(small.output, "sample_cases.cpp:" + line + ": FAILED:\nexplicitly with message:\n  leakguard: leak: "
                                       "+48 B in +1 block (in section \"loses an order\")\n"))
        << small.output;
    const auto thread = run_sample("'a joined thread drops a block'");
    ASSERT_EQ(thread.exit_code, failed_exit(1)) << "run " << run << "\n" << thread.output;
    EXPECT_TRUE(contains(thread.output, "leakguard: leak: +144 B in +2 blocks\n")) << thread.output;
  }
}

TEST(Catch2Plugin, CleanRunsCatch2sRecordsAndLazyStaticsPass) {
  const auto run = run_sample("'clean sections pass','Catch2*own records pass','a lazy static passes'");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "All tests passed")) << run.output;
  EXPECT_FALSE(contains(run.output, "leakguard")) << run.output;
  // Catch2's records never count, in any mode and with the JUnit reporter's stored results too.
  for (const char* reporter : {"console", "junit"}) {
    const auto strict = run_sample("'clean sections pass','Catch2*own records pass'", std::string("-r ") + reporter,
                                   "LEAKGUARD_MODE=strict");
    EXPECT_EQ(strict.exit_code, 0) << reporter << "\n" << strict.output;
    EXPECT_FALSE(contains(strict.output, "leakguard")) << reporter << "\n" << strict.output;
  }
}

TEST(Catch2Plugin, GeneratorsFixturesAndExceptions) {
  const auto generated = run_sample("'a generator value leaks'");
  EXPECT_EQ(generated.exit_code, failed_exit(1)) << generated.output;
  EXPECT_EQ(count(generated.output, "leakguard: leak: +200.0 KiB in +1 block (in run #2)\n"), 1u)
      << "one value of three, the second\n"
      << generated.output;
  const auto fixture = run_sample("\"a fixture's test leaks\"");
  EXPECT_EQ(fixture.exit_code, failed_exit(1)) << fixture.output;
  EXPECT_EQ(count(fixture.output, "leakguard: leak: +200.0 KiB in +1 block"), 1u) << "the fixture's own vector is freed\n"
                                                                                    << fixture.output;
  const auto thrown = run_sample("'throws out of the test'");
  EXPECT_EQ(thrown.exit_code, failed_exit(1)) << thrown.output;
  EXPECT_TRUE(contains(thrown.output, "out of the test")) << thrown.output;
  EXPECT_FALSE(contains(thrown.output, "leakguard")) << thrown.output;
}

TEST(Catch2Plugin, ABlockAnotherThreadFreesJustAfterTheRunDoesNotFailIt) {
  for (int run = 0; run < 5; ++run) {
    const auto strict = run_sample("'a block freed by a background thread soon after'", "", "LEAKGUARD_MODE=strict");
    ASSERT_EQ(strict.exit_code, 0) << "run " << run << "\n" << strict.output;
  }
}

TEST(Catch2Plugin, OptOuts) {
  const auto run = run_sample("'[opts]'");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "test cases: 4 | 4 passed") || contains(run.output, "All tests passed (")) << run.output;
  EXPECT_FALSE(contains(run.output, "leakguard")) << run.output;
  const auto by_name = run_sample("'a section leaks'", "", "LEAKGUARD_SKIP='a section*'");
  EXPECT_EQ(by_name.exit_code, 0) << by_name.output;
}

TEST(Catch2Plugin, SuppressionsAndTheUntracedScope) {
  const auto untraced = run_sample("'leaks inside ScopedUntraced'");
  EXPECT_EQ(untraced.exit_code, 0) << untraced.output;
  EXPECT_FALSE(contains(untraced.output, "leakguard")) << untraced.output;

  const std::string file = "/tmp/leakguard-catch2-supp-" + std::to_string(::getpid());
  const auto unsuppressed = run_sample("'suppressed by the suppressions file'");
  EXPECT_EQ(unsuppressed.exit_code, failed_exit(1)) << unsuppressed.output;
  lgtest::run_command("printf '# leak_one loses a buffer on purpose\\nleak:suppressed_leaker\\n' > " + file);
  const auto suppressed = run_sample("'suppressed by the suppressions file'", "", "LEAKGUARD_SUPPRESSIONS=" + file);
  EXPECT_EQ(suppressed.exit_code, 0) << suppressed.output;
  EXPECT_FALSE(contains(suppressed.output, "leakguard")) << suppressed.output;
  lgtest::run_command("printf 'leak:suppressed_leaker\\nlaek:typo\\n' > " + file);
  const auto bad = run_sample("'suppressed by the suppressions file'", "", "LEAKGUARD_SUPPRESSIONS=" + file);
  EXPECT_EQ(bad.exit_code, failed_exit(1)) << "a bad file suppresses nothing\n" << bad.output;
  EXPECT_TRUE(contains(bad.output, "leakguard: suppressions '" + file + "', line 2: ")) << bad.output;
  std::remove(file.c_str());
}

TEST(Catch2Plugin, BudgetsSetInsideATestCaseAndTheHeldNote) {
  const auto net = run_sample("'its own net budget'");
  EXPECT_EQ(net.exit_code, failed_exit(1)) << net.output;
  // Catch2's console reporter wraps messages at 80 columns: only the head of the line is asserted.
  EXPECT_TRUE(contains(net.output, "leakguard: net growth over the test's budget: +3.9 KiB in +2 blocks")) << net.output;
  const auto peak = run_sample("'its own peak budget'");
  EXPECT_EQ(peak.exit_code, failed_exit(1)) << peak.output;
  EXPECT_TRUE(contains(peak.output, "leakguard: peak over budget: ")) << peak.output;
  const auto env_peak = run_sample("'clean sections pass'", "", "LEAKGUARD_PEAK_BUDGET=64");
  EXPECT_EQ(env_peak.exit_code, failed_exit(2)) << "each of the two runs of the body goes over\n" << env_peak.output;
  EXPECT_TRUE(contains(env_peak.output, "leakguard: peak over budget: ")) << env_peak.output;
  // Held growth passes; past LEAKGUARD_HELD_NOTE (1 MiB by default) it is said on stderr.
  const auto quiet = run_sample("'holds a lot reachably'");
  EXPECT_EQ(quiet.exit_code, 0) << quiet.output;
  EXPECT_FALSE(contains(quiet.output, "leakguard")) << quiet.output;
  const auto noted = run_sample("'holds a lot reachably'", "", "LEAKGUARD_HELD_NOTE='256 KiB'");
  EXPECT_EQ(noted.exit_code, 0) << noted.output;
  EXPECT_TRUE(contains(noted.output, "leakguard: holds a lot reachably holds 300.")) << noted.output;
  EXPECT_TRUE(contains(noted.output, "still reachable (caches, statics): not a leak\n")) << noted.output;
}

// LEAKGUARD_REPEAT runs the session again; each run of a body (a test case and its sections) is
// judged across the session's runs.
TEST(Catch2Plugin, RepeatedRunsCatchAGlobalContainerThatGrowsEveryRun) {
  const auto once = run_sample("'[repeat]'");
  EXPECT_EQ(once.exit_code, 0) << "one run: the growth is reachable, not a leak\n" << once.output;
  const auto repeated = run_sample("'[repeat]'", "--order decl", "LEAKGUARD_REPEAT=3");
  EXPECT_EQ(repeated.exit_code, failed_exit(2)) << repeated.output;
  EXPECT_EQ(count(repeated.output, "leakguard: growth in every repeated run after the first ("), 2u) << repeated.output;
  EXPECT_TRUE(contains(repeated.output, "registry().emplace_back(100, 'r');")) << repeated.output;
  EXPECT_TRUE(contains(repeated.output, "(in section \"grows\")\n")) << "only that section's runs grew\n" << repeated.output;
  EXPECT_FALSE(contains(repeated.output, "(in section \"steady\")")) << repeated.output;
  EXPECT_TRUE(contains(repeated.output, "leakguard: a first-use cache grows once grew in its first run only (+")) << repeated.output;
  EXPECT_EQ(count(repeated.output, "All tests passed ("), 2u) << "the first two session runs pass\n" << repeated.output;
  // Strict mode needs no repeat: any growth of the user's fails.
  const auto strict = run_sample("'a global container grows on every run'", "", "LEAKGUARD_MODE=strict");
  EXPECT_EQ(strict.exit_code, failed_exit(1)) << strict.output;
  const auto bad = run_sample("'a first-use cache grows once'", "", "LEAKGUARD_REPEAT=many");
  EXPECT_EQ(bad.exit_code, 0) << bad.output;
  EXPECT_TRUE(contains(bad.output, "leakguard: LEAKGUARD_REPEAT='many' is not a number of runs (1 or more); running once\n"))
      << bad.output;
}

TEST(Catch2Plugin, NoLeakAssertions) {
  const auto run = run_sample("'no-leak assertions'");
  EXPECT_EQ(run.exit_code, failed_exit(1)) << run.output;
  const std::string line = printed_line(run.output, "macro leak line ");
  EXPECT_TRUE(contains(run.output, "sample_cases.cpp:" + line + ": FAILED:\n  CHECK_NO_LEAK( { char* lost = new char[300 * 1024];"))
      << run.output;
  EXPECT_TRUE(contains(run.output, "leakguard: the statement leaked: +300.0 KiB in +1 block")) << run.output;
  EXPECT_TRUE(contains(run.output, "  context from the user\n")) << "INFO applies\n" << run.output;
  EXPECT_EQ(count(run.output, ": FAILED:"), 1u) << "the listener must not report the macro's leak again\n" << run.output;
  EXPECT_TRUE(contains(run.output, "assertions: 4 | 3 passed | 1 failed")) << run.output;

  const auto stopped = run_sample("'require-no-leak stops the test case'");
  EXPECT_EQ(stopped.exit_code, failed_exit(1)) << stopped.output;
  EXPECT_TRUE(contains(stopped.output, "REQUIRE_NO_LEAK( { char* lost = new char[210 * 1024]; keep(lost); } )")) << stopped.output;
  EXPECT_FALSE(contains(stopped.output, "not reached")) << stopped.output;
}

TEST(Catch2Plugin, MemoryAssertions) {
  const auto run = run_sample("'memory assertions'");
  EXPECT_EQ(run.exit_code, failed_exit(1)) << run.output;
  const std::string line = printed_line(run.output, "budget line ");
  EXPECT_TRUE(contains(run.output, "sample_cases.cpp:" + line + ": FAILED:\n  CHECK_MEMORY_WITHIN(")) << run.output;
  EXPECT_TRUE(contains(run.output, "leakguard: peak over budget: +8.0 KiB in +1 block (budget 1.0 KiB)")) << run.output;
  EXPECT_EQ(count(run.output, ": FAILED:"), 1u) << "the other three hold\n" << run.output;
}

TEST(Catch2Plugin, ModesAndBudgetsFromTheEnvironment) {
  const auto off = run_sample("'a section leaks'", "", "LEAKGUARD_MODE=off");
  EXPECT_EQ(off.exit_code, 0) << off.output;
  EXPECT_FALSE(contains(off.output, "leakguard")) << off.output;
  const auto report = run_sample("'a section leaks'", "", "LEAKGUARD_MODE=report");
  EXPECT_EQ(report.exit_code, 0) << report.output;
  EXPECT_TRUE(contains(report.output, "a section leaks (section \"leaks\"): leakguard: leak: +200.0 KiB in +1 block\n"))
      << report.output;
  const auto strict = run_sample("'a lazy static passes'", "", "LEAKGUARD_MODE=strict");
  EXPECT_EQ(strict.exit_code, failed_exit(1)) << strict.output;
  EXPECT_TRUE(contains(strict.output, "leakguard: growth (strict mode): ")) << strict.output;
  const auto net = run_sample("'a lazy static passes'", "", "LEAKGUARD_NET_BUDGET=16B");
  EXPECT_EQ(net.exit_code, failed_exit(1)) << net.output;
  EXPECT_TRUE(contains(net.output, "leakguard: net growth over the test's budget: ")) << net.output;
}

TEST(Catch2Plugin, JUnitCarriesTheFailure) {
  const auto run = run_sample("'a section leaks','clean sections pass'", "-r junit");
  EXPECT_EQ(run.exit_code, failed_exit(1)) << run.output;
  EXPECT_TRUE(contains(run.output, "<failure")) << run.output;
  EXPECT_TRUE(contains(run.output, "leakguard: leak: +200.0 KiB in +1 block")) << run.output;
  EXPECT_TRUE(contains(run.output, "failures=\"1\"")) << run.output;
}

// -a and -x N abort the run at a failure, which Catch2 signals by throwing out of the assertion:
// the listener's failure must stop it cleanly too.
TEST(Catch2Plugin, AbortAfterFailures) {
  const auto first = run_sample("'a section leaks','clean sections pass'", "-a --order decl");
  EXPECT_EQ(first.exit_code, failed_exit(1)) << first.output;
  EXPECT_TRUE(contains(first.output, "leakguard: leak: +200.0 KiB in +1 block")) << first.output;
  EXPECT_TRUE(contains(first.output, "test cases: 1 | 1 failed")) << first.output;
  const auto two = run_sample("'a section leaks','a generator value leaks','a fixture*'", "-x 2 --order decl");
  EXPECT_EQ(two.exit_code, failed_exit(2)) << two.output;
  EXPECT_EQ(count(two.output, "leakguard: leak: +200.0 KiB in +1 block"), 2u) << two.output;
}

// A main of the program's own, linking leakguard::catch2: the listener is there by linking alone;
// the CATCH_-prefixed macros work as the plain ones.
TEST(Catch2Plugin, AnOwnMainAndThePrefixedMacros) {
  const auto run = lgtest::run_command(std::string("env -u LEAKGUARD_MODE ") + LEAKGUARD_CATCH2_OWN_MAIN + " 2>&1");
  EXPECT_EQ(run.exit_code, failed_exit(4)) << run.output;
  EXPECT_TRUE(contains(run.output, "prefixed_cases.cpp:14: FAILED:\n  CATCH_CHECK_NO_LEAK( lose() )\nexplicitly with message:\n"
                                   "  leakguard: the statement leaked: +220.0 KiB in +1 block\n"))
      << run.output;
  EXPECT_TRUE(contains(run.output, "prefixed_cases.cpp:15: FAILED:\n  CATCH_CHECK_MEMORY_WITHIN(")) << run.output;
  EXPECT_TRUE(contains(run.output, "prefixed_cases.cpp:17: FAILED:\n  CATCH_REQUIRE_MEMORY_WITHIN(")) << run.output;
  EXPECT_TRUE(contains(run.output, "prefixed_cases.cpp:9: FAILED:\nexplicitly with message:\n  leakguard: leak: +220.0 KiB"))
      << "the listener's own check\n"
      << run.output;
  EXPECT_TRUE(contains(run.output, "assertions: 6 | 2 passed | 4 failed")) << "REQUIRE_ ends the test case\n" << run.output;
  // Without leakguard::catch2::run(), LEAKGUARD_REPEAT cannot rerun the session: it says so.
  const auto repeat = lgtest::run_command("env LEAKGUARD_REPEAT=2 " + std::string(LEAKGUARD_CATCH2_OWN_MAIN) +
                                          " 'a leak the listener catches' 2>&1");
  EXPECT_TRUE(contains(repeat.output, "leakguard: LEAKGUARD_REPEAT=2 needs the session run by leakguard::catch2::run(session)"))
      << repeat.output;
}

TEST(Catch2Plugin, ListingPrintsTheNamesOnly) {
  const auto run = lgtest::run_command(std::string(LEAKGUARD_CATCH2_SAMPLE) + " " + kListNames + " 2>/dev/null");
  const std::vector<std::string> names = {"a section leaks",
                                          "clean sections pass",
                                          "Catch2's own records pass",
                                          "a lazy static passes",
                                          "a generator value leaks",
                                          "a fixture's test leaks",
                                          "throws out of the test",
                                          "a block freed by a background thread soon after",
                                          "opted out by tag",
                                          "skips its check",
                                          "leaks one on purpose",
                                          "ignores an object",
                                          "no-leak assertions",
                                          "require-no-leak stops the test case",
                                          "memory assertions",
                                          "suppressed by the suppressions file",
                                          "leaks inside ScopedUntraced",
                                          "its own net budget",
                                          "its own peak budget",
                                          "holds a lot reachably",
                                          "a global container grows on every run",
                                          "a first-use cache grows once",
                                          "runs are told apart by their sections",
                                          "a small object leaks",
                                          "a joined thread drops a block",
                                          "a statement leaks in a section",
                                          "a statement leaks in an opted-out case",
                                          "the run crashes"};
  std::string expected;
  for (const std::string& name : names) expected += name + "\n";
  EXPECT_EQ(run.exit_code, list_exit(static_cast<int>(names.size())));
  EXPECT_EQ(run.output, expected) << "stdout carries the names and nothing else";
}

TEST(Catch2Plugin, AFileWithOtherLayoutSettingsIsNamedAndNothingIsChecked) {
  const auto run = lgtest::run_command(std::string(LEAKGUARD_CATCH2_MISMATCHED) + " 2>&1");
  EXPECT_EQ(run.exit_code, 0) << run.output;
#if LEAKGUARD_CATCH2_SAMPLE_MAJOR >= 3
  // v3 compiles benchmarking in always: CATCH_CONFIG_ENABLE_BENCHMARKING changes no layout there.
  EXPECT_FALSE(contains(run.output, "leakguard")) << run.output;
  return;
#endif
  EXPECT_TRUE(contains(run.output, "leakguard: ") && contains(run.output, "mismatched_settings.cpp included "
                                                                          "leakguard/catch2.hpp with other CATCH_CONFIG_* settings"))
      << run.output;
}

}  // namespace
