// The GoogleTest adapter: GoogleTest's test events become TestChecker calls (test_checker.hpp),
// and what the checker finds becomes GoogleTest failures and XML properties. The rules are the
// core's.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include <leakguard/leakguard.hpp>

#include "leakguard/gtest.hpp"

namespace leakguard::gtest {
namespace {

int repeat_count() {
#ifdef GTEST_FLAG_GET  // GoogleTest 1.12 and later
  return GTEST_FLAG_GET(repeat);
#else
  return ::testing::GTEST_FLAG(repeat);
#endif
}

// LEAKGUARD_REPEAT is --gtest_repeat's, when the command line did not set that.
void repeat_as_asked(int runs) {
  if (runs < 2 || repeat_count() != 1) return;
#ifdef GTEST_FLAG_SET
  GTEST_FLAG_SET(repeat, runs);
#else
  ::testing::GTEST_FLAG(repeat) = runs;
#endif
}

// GoogleTest writes a report (--gtest_output, or GTEST_OUTPUT, which sets it): the only reader of
// test properties. Recording them costs as much as the rest of a passing test's check.
bool writes_a_report() {
#ifdef GTEST_FLAG_GET
  return !GTEST_FLAG_GET(output).empty();
#else
  return !::testing::GTEST_FLAG(output).empty();
#endif
}

void raise(const ::testing::TestInfo& info, const TestOutcome& outcome) {
  if (!outcome.checked) return;
  static const bool record = writes_a_report();
  if (record) {
    ::testing::Test::RecordProperty("leakguard_leaked_bytes", std::to_string(outcome.leaked_bytes));
    ::testing::Test::RecordProperty("leakguard_leaked_blocks", std::to_string(outcome.leaked_blocks));
  }
  for (const TestFinding& f : outcome.findings) {
    if (!f.fails) {
      std::fputs(f.text.c_str(), stderr);
      continue;
    }
    const bool located = !f.file.empty();
    GTEST_MESSAGE_AT_(located ? f.file.c_str() : info.file(), located ? f.line : info.line(), f.text.c_str(),
                      ::testing::TestPartResult::kNonFatalFailure);
  }
}

class LeakListener : public ::testing::EmptyTestEventListener {
 public:
  explicit LeakListener(const TestSettings& settings) : checker_(settings) {}

  void OnTestIterationStart(const ::testing::UnitTest&, int iteration) override {
    checker_.begin_iteration(iteration, repeat_count());
  }

  void OnTestProgramEnd(const ::testing::UnitTest&) override { checker_.end_run(); }

  void OnTestStart(const ::testing::TestInfo& info) override {
    checker_.begin_test(std::string(info.test_suite_name()) + "." + info.name());
  }

  // No locals here: see TestChecker::end_test. It runs after TearDown and the fixture's
  // destructor; GoogleTest then still prints the test's result and writes its XML.
  void OnTestEnd(const ::testing::TestInfo& info) override {
    checker_.end_test(info.result()->Skipped(), [&info](const TestOutcome& outcome) { raise(info, outcome); });
  }

 private:
  TestChecker checker_;
};

// Tracing from load time, before other static constructors (leakguard's own environment switch,
// LEAKGUARD_START, may already have started it with another frame count).
__attribute__((constructor(102))) void start_tracing_at_load() {
  if (!is_tracing()) start();
}

}  // namespace

void install() {
  // The command line's --leakguard_* flags (InitGoogleTest leaves them for us) over the
  // environment's settings.
  const std::vector<std::string> args = ::testing::internal::GetArgvs();
  TestSettings settings = TestSettings::with_flags(TestSettings::from_environment(), args);
  // A death test's child, run again from the start ("threadsafe" style), is a part of the parent's
  // test: a run file of its own would count as a second, never-finished run.
  for (const std::string& arg : args) {
    if (arg.rfind("--gtest_internal_run_death_test", 0) == 0) settings.report_dir.clear();
  }
  settings.apply_to_process();
  if (settings.mode == CheckMode::kOff) {
    stop();  // nothing to check: no cost either
    return;
  }
  // GoogleTest's own code, by name and, for its inlined code when it is built from source with the
  // tests, by file; and the plugin's own sources.
  const std::string here = __FILE__;
  declare_test_framework({"testing::"}, {"*/include/gtest/*", "*/include/gmock/*", "*/googletest/src/*",
                                         "*/googlemock/src/*", here.substr(0, here.rfind('/')) + "/*"});
  repeat_as_asked(settings.repeat);
  ::testing::UnitTest::GetInstance()->listeners().Append(new LeakListener(settings));
}

}  // namespace leakguard::gtest
