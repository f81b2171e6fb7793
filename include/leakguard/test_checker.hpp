// What a framework plugin runs around each test. The GoogleTest and Catch2 adapters only translate
// their framework's events into these calls and the outcome into their framework's failures, so
// both apply the same rules with the same settings.
//
// Settings, from the environment (read once; a bad value is named on stderr and ignored):
//   LEAKGUARD_MODE=off|report|fail|strict   the rule (test_check.hpp); fail by default
//   LEAKGUARD_NET_BUDGET=<size>             each test's net growth tolerance: fails a test whose
//                                           blocks still alive at its end (lost or reachable) sum
//                                           to more. "64 KiB", "1 MB", "4096" (parse_bytes).
//   LEAKGUARD_PEAK_BUDGET=<size>            each test's peak: how far above its start its traced
//                                           memory may go. Costs a snapshot at each test's start.
//   LEAKGUARD_HELD_NOTE=<size>              reachable growth that earns a line on stderr (1 MiB)
//   LEAKGUARD_SKIP=<patterns>               tests not checked: "Suite.*:Other.Name", '*' and '?'
//                                           wildcards, ':' between patterns, as --gtest_filter
//   LEAKGUARD_REPEAT=<n>                    run the whole suite n times (n >= 2: the repeated-run
//                                           rule); the adapters do the reruns (GoogleTest's
//                                           --gtest_repeat, the Catch2 plugin's run_session).
//                                           A run's net change costs what the test freed and
//                                           kept, not the size of the heap
//   LEAKGUARD_SUPPRESSIONS=<file>           LSan-style suppressions (suppressions.hpp)
//   LEAKGUARD_REPORT_DIR=<dir>              writes this process's findings to a run file in dir
//                                           (created if missing) for `leakguard merge`
//                                           (run_report.hpp); in report mode too
// The GoogleTest plugin also takes each as a flag, which wins over the environment:
// --leakguard_mode=, --leakguard_net_budget=, --leakguard_peak_budget=, --leakguard_held_note=,
// --leakguard_skip=, --leakguard_repeat=, --leakguard_suppressions=, --leakguard_report_dir=
// (with_flags).
// From inside a test, for that test only (the adapters give them macro spellings):
//   set_test_net_budget / set_test_peak_budget, skip_leak_check, expect_leaked_blocks.
// From anywhere, for every test whose name matches: skip_leak_checks_for(pattern).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "leakguard/export.hpp"
#include "leakguard/test_check.hpp"

namespace leakguard {

struct TestSettings {
  CheckMode mode = CheckMode::kFail;
  std::int64_t net_budget = -1;   // bytes; -1: none
  std::int64_t peak_budget = -1;  // bytes; -1: none
  std::size_t held_note = std::size_t{1} << 20;
  std::vector<std::string> skip;  // name patterns
  int repeat = 1;                 // runs of the suite the environment asks for
  std::string suppressions;       // a file; "" for none
  std::string report_dir;         // the run file's directory; "" for none

  // The environment's settings above; read once per process.
  static const TestSettings& from_environment();
  // `base` with the `--leakguard_<setting>=<value>` arguments among `args` on top (a bad value is
  // named on stderr, as in the environment, and leaves that setting as it was; an unknown
  // --leakguard_ flag is named too). Other arguments are left alone.
  static TestSettings with_flags(TestSettings base, const std::vector<std::string>& args);
  // Makes the process-wide settings these: the mode the statement assertions follow
  // (set_check_mode), the suppressions file (set_suppressions_file) and the run file's directory.
  void apply_to_process() const;
};

// The running test's own budgets, from inside it. The net budget replaces LEAKGUARD_NET_BUDGET
// for this test. The peak budget starts counting where it is set (put it first in the test) and
// replaces LEAKGUARD_PEAK_BUDGET's for the rest of the test. A bad size string throws BadSize.
LEAKGUARD_API void set_test_net_budget(std::size_t bytes);
LEAKGUARD_API void set_test_net_budget(std::string_view size);
LEAKGUARD_API void set_test_peak_budget(std::size_t bytes);
LEAKGUARD_API void set_test_peak_budget(std::string_view size);

// Tests whose full name ("Suite.Name"; a parameterized one's "Prefix/Suite.Name/0") matches
// `patterns` (name_matches) are not checked. Callable at static initialisation.
LEAKGUARD_API void skip_leak_checks_for(std::string patterns);

// Names the test framework's own code, once, before the tests run (the plugins do it): its frames
// fold in reports like system code, and a block whose first frame outside the C/C++ runtime is
// the framework's (a section tracker, a failure record, even from a macro that expanded in the
// test's body) is the framework's own: never a test's growth, in any mode. Namespaces match a
// frame's qualified function name ("testing::"), files its source file (fnmatch).
LEAKGUARD_API void declare_test_framework(const std::vector<std::string>& namespaces,
                                          const std::vector<std::string>& files);

// '*' matches any run of characters and '?' one, across the whole name; ':' separates patterns.
LEAKGUARD_API bool name_matches(std::string_view patterns, std::string_view name);

// One thing a test's check found, for the adapter to raise in its framework's way.
struct TestFinding {
  bool fails = false;  // a test failure; otherwise a note for stderr, which passes
  std::string text;    // a formatted report (failures), or one line (notes)
  // Where the failure points: the allocating line when known; "" means the test's own place.
  std::string file;
  int line = 0;
};

struct TestOutcome {
  bool checked = false;  // false: mode off, skipped, or opted out
  std::size_t leaked_bytes = 0;  // definite leaks, for the framework's report properties
  std::size_t leaked_blocks = 0;
  std::vector<TestFinding> findings;
  bool failed() const;
};

class LEAKGUARD_API TestChecker {
 public:
  explicit TestChecker(const TestSettings& settings = TestSettings::from_environment());
  ~TestChecker();
  TestChecker(const TestChecker&) = delete;
  TestChecker& operator=(const TestChecker&) = delete;

  const TestSettings& settings() const;

  // A run of the whole suite: the repeated-run rule judges a test at its run in the last
  // iteration. `iterations` is how many there are (GoogleTest's --gtest_repeat).
  void begin_iteration(int iteration, int iterations);
  // The whole run is over (after its last iteration): the run file, if any, is completed.
  void end_run();
  // Opens the test's window. `name` identifies it across repeated runs.
  void begin_test(std::string name);
  // Names the open window anew, when only its end tells which run of the test it was (Catch2
  // runs a test case's body once per leaf section and generator value). Also while the test runs:
  // a statement assertion's failure goes to the run file under the name given last.
  void name_run(std::string_view name);
  // A test the adapter does not check (its own opt-out, such as Catch2's [noleakcheck] tag):
  // named all the same, so that a statement assertion failing in it is recorded under its name.
  void begin_unchecked_test(std::string_view name);
  // Closes the window, judges it, and hands the outcome to raise(const TestOutcome&) before it
  // returns. Call it first thing at the test's end, from a frame with no other locals: the test's
  // dead frames lie where the adapter's frames now are, with slots nobody wrote since, and the
  // scan reads them. end_test wipes the stack below itself first (wipe_dead_stack) when a block
  // of the test may survive, and only then makes the frames that hold the outcome. `skipped`: the
  // framework skipped the test, which is then not judged.
  template <class Raise>
  void end_test(bool skipped, Raise&& raise) {
    end_test_impl(skipped, [](const TestOutcome& o, void* r) { (*static_cast<std::remove_reference_t<Raise>*>(r))(o); },
                  &raise);
  }

 private:
  void end_test_impl(bool skipped, void (*raise)(const TestOutcome&, void*), void* context);

 public:
  struct State;  // internal

 private:
  std::unique_ptr<State> state_;
};

}  // namespace leakguard

// Framework-neutral spellings, for inside a test (the plugins' headers add their own):
#define LEAKGUARD_SKIP_LEAK_CHECK() ::leakguard::skip_leak_check()
#define LEAKGUARD_EXPECT_LEAKS(blocks) ::leakguard::expect_leaked_blocks(blocks)
#define LEAKGUARD_TEST_NET_BUDGET(limit) ::leakguard::set_test_net_budget(limit)
#define LEAKGUARD_TEST_PEAK_BUDGET(limit) ::leakguard::set_test_peak_budget(limit)
