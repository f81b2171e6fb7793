// The Catch2 adapter: Catch2's events become TestChecker calls (leakguard/test_checker.hpp), and
// what the checker finds becomes Catch2 assertions. The rules are the core's.
//
// Where a failure can be raised: not from testCaseEnded (Catch2's reporters assert on their
// section stacks there; catchorg/Catch2#1618), but from the end of the root section, which
// Catch2 opens around every run of a test case's body. Listeners hear of it before the reporters,
// so their section stacks are still whole, and a failure raised there is counted for the test
// case and in the exit code. The root section's SectionStats were counted before it, though:
// the listener adds its failures to them, as Catch2 v3's JUnit reporter writes only the sections
// whose stats have assertions (a run whose only failure was the leak would be left out).
#if defined(LEAKGUARD_CATCH2_MAJOR) && LEAKGUARD_CATCH2_MAJOR >= 3
#include <catch2/catch_test_case_info.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/reporters/catch_reporter_event_listener.hpp>
#include <catch2/reporters/catch_reporter_registrars.hpp>
#else
#define CATCH_CONFIG_EXTERNAL_INTERFACES  // the reporter bases
#include <catch2/catch.hpp>
#endif

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "leakguard/catch2.hpp"

namespace leakguard::catch2 {
namespace {

using OwnMemory = ::leakguard::detail::OwnMemoryScope;  // the adapter's bookkeeping

// The settings of the files that included leakguard/catch2.hpp with other CATCH_CONFIG_* layout
// settings than this one; reported once the session starts.
struct LayoutCheck {
  std::mutex mutex;
  std::string mismatched;
};
LayoutCheck& layout_check() {
  static LayoutCheck* check = [] {
    OwnMemory own;
    return new LayoutCheck;
  }();
  return *check;
}

// Catch2's JUnit reporter keeps each assertion's file name as a pointer until the run ends: the
// names given to it must live as long.
const char* lasting(const std::string& file) {
  static std::set<std::string>* files = [] {
    OwnMemory own;
    return new std::set<std::string>;
  }();
  OwnMemory own;
  return files->insert(file).first->c_str();
}

// Which of run()'s runs of the session is going on: Catch2 makes a new listener for each, and
// the repeated-run rule compares them.
std::atomic<int> g_iteration{0};
std::atomic<int> g_iterations{0};  // 0: the session is not run through run()

// The process's one checker: it keeps each test's runs across the session's runs.
TestChecker* checker() {
  static TestChecker* one = [] {
    OwnMemory own;  // lives with the process, as its records must
    return new TestChecker(TestSettings::from_environment());
  }();
  return one;
}

#if LEAKGUARD_CATCH2_V >= 3
using ListenerBase = Catch::EventListenerBase;
#else
using ListenerBase = Catch::TestEventListenerBase;
#endif

class LeakListener : public ListenerBase {
 public:
  using ListenerBase::ListenerBase;

  void testRunStarting(Catch::TestRunInfo const& info) override {
    ListenerBase::testRunStarting(info);
    {
      std::lock_guard<std::mutex> lock(layout_check().mutex);
      if (!layout_check().mismatched.empty()) {
        std::fprintf(stderr,
                     "leakguard: %s included leakguard/catch2.hpp with other CATCH_CONFIG_* settings than the plugin "
                     "was built with (Catch2's classes differ between them); no leak is checked\n",
                     layout_check().mismatched.c_str());
        return;
      }
    }
    const TestSettings& settings = TestSettings::from_environment();
    if (settings.mode == CheckMode::kOff) {
      stop();  // nothing to check: no cost either
      return;
    }
    settings.apply_to_process();
    if (settings.repeat > 1 && g_iterations.load() == 0 && g_iteration.load() == 0) {
      std::fprintf(stderr,
                   "leakguard: LEAKGUARD_REPEAT=%d needs the session run by leakguard::catch2::run(session) "
                   "(leakguard::catch2_main does it); running once\n",
                   settings.repeat);
    }
    // Catch2's own code, by name and by file (its macros expand in the test's body); and the
    // plugin's own sources.
    static const bool declared = [] {
      const std::string here = __FILE__;
      declare_test_framework({"Catch::"}, {"*/catch2/catch.hpp", "*/catch2/internal/*", "*/catch2/reporters/*",
                                           "*/catch2/catch_*", here.substr(0, here.rfind('/')) + "/*"});
      return true;
    }();
    (void)declared;
    const int iterations = g_iterations.load();
    checker()->begin_iteration(iterations == 0 ? 0 : g_iteration.load(), iterations == 0 ? 1 : iterations);
    checking_ = true;
  }

  void testRunEnded(Catch::TestRunStats const& stats) override {
    ListenerBase::testRunEnded(stats);
    const int iterations = g_iterations.load();
    // Catch2 v2 also ends the run from its fatal-signal handler: that run did not complete, and
    // a signal handler must not take the run file's lock.
    if (checking_ && !fatal_ && (iterations == 0 || g_iteration.load() == iterations - 1)) checker()->end_run();
  }

  void testCaseStarting(Catch::TestCaseInfo const& info) override {
    ListenerBase::testCaseStarting(info);
    skip_case_ = false;
    for (const auto& tag : info.tags) {
#if LEAKGUARD_CATCH2_V >= 3
      if (Catch::StringRef(tag.original) == Catch::StringRef("noleakcheck")) skip_case_ = true;
#else
      if (tag == "noleakcheck") skip_case_ = true;
#endif
    }
    ok_to_fail_ = info.okToFail();
    OwnMemory own;
    name_ = info.name;
    runs_.clear();
  }

  void sectionStarting(Catch::SectionInfo const& info) override {
    ListenerBase::sectionStarting(info);
    if (++depth_ == 1) {
      OwnMemory own;
      sections_.clear();
      if (checking()) {
        checker()->begin_test(name_);
      } else if (checking_ && !fatal_) {
        checker()->begin_unchecked_test(name_);
      }
    } else if (checking()) {
      OwnMemory own;  // the run's name is the adapter's memory, not the test's
      if (!sections_.empty()) sections_ += " / ";
      sections_ += info.name;
      checker()->name_run(name_ + " (section \"" + sections_ + "\")");  // for what fails in it
    }
  }

  // No locals here: see TestChecker::end_test.
  void sectionEnded(Catch::SectionStats const& stats) override {
    if (--depth_ == 0 && checking()) {
      name_this_run();
      raised_ = 0;
      checker()->end_test(false, [this](const TestOutcome& outcome) { raise(outcome); });
      // The reporters hear of the root section after the listener, with these stats: they count
      // the failures just raised as RunContext::assertionEnded counted them. The object is
      // RunContext's own non-const local, passed to every listener and reporter by reference.
      if (raised_ > 0) {
        Catch::Counts& counts = const_cast<Catch::SectionStats&>(stats).assertions;
        if (ok_to_fail_) {
          counts.failedButOk += raised_;
        } else {
          counts.failed += raised_;
        }
      }
    }
    ListenerBase::sectionEnded(stats);
  }

  void fatalErrorEncountered(Catch::StringRef error) override {
    fatal_ = true;  // a signal: the run is ending, and its state cannot be trusted
    ListenerBase::fatalErrorEncountered(error);
  }

 private:
  bool checking() const { return checking_ && !skip_case_ && !fatal_; }

  // The run's name across the session's runs: the test case, the sections it went through, and
  // which run it was of those that went the same way (a GENERATE value). And the part of it that
  // tells the test case's runs apart, for the failure's message.
  __attribute__((noinline)) void name_this_run() {
    OwnMemory own;
    const int nth = ++runs_[sections_];
    where_.clear();
    if (!sections_.empty()) where_ = "section \"" + sections_ + "\"";
    if (nth > 1) where_ += (where_.empty() ? "run #" : ", run #") + std::to_string(nth);
    checker()->name_run(where_.empty() ? name_ : name_ + " (" + where_ + ")");
  }

  // The finding's text, with the run it was found in after its first line.
  std::string located(const std::string& text) const {
    if (where_.empty()) return text;
    const std::size_t eol = text.find('\n');
    return text.substr(0, eol) + " (in " + where_ + ")" + (eol == std::string::npos ? "" : text.substr(eol));
  }

  void raise(const TestOutcome& outcome) {
    for (const TestFinding& f : outcome.findings) {
      if (!f.fails) {
        std::fputs(f.text.c_str(), stderr);
        continue;
      }
      const Catch::SourceLineInfo where(f.file.empty() ? "leakguard" : lasting(f.file),
                                        static_cast<std::size_t>(f.line));
      Catch::AssertionHandler handler(Catch::StringRef("LEAKGUARD_CHECK"), where, Catch::StringRef(""),
                                      Catch::ResultDisposition::ContinueOnFailure);
      detail::report(handler, false, located(f.text));
      ++raised_;
      try {
        handler.complete();
      } catch (...) {  // Catch::TestFailureException under -a or -x: the run is being aborted
      }
    }
  }

  std::string name_;      // the test case's
  std::string sections_;  // those this run of the body went through, outermost first
  std::string where_;     // this run among the test case's runs: its sections, its number
  std::map<std::string, int> runs_;  // the test case's runs so far, by their sections
  int depth_ = 0;
  std::size_t raised_ = 0;  // the failures raised at the end of this run of the body
  bool ok_to_fail_ = false;  // [!mayfail], [!shouldfail]: Catch2 counts its failures as failedButOk
  bool checking_ = false;
  bool skip_case_ = false;
  bool fatal_ = false;
};

// Tracing from load time, before other static constructors.
__attribute__((constructor(102))) void start_tracing_at_load() {
  if (!is_tracing()) start();
}

}  // namespace

bool detail::register_layout(unsigned settings, const char* file) {
  if (settings == layout_settings()) return true;
  std::lock_guard<std::mutex> lock(layout_check().mutex);
  OwnMemory own;
  if (layout_check().mismatched.empty()) layout_check().mismatched = file;
  return false;
}

int detail::runs_wanted() { return TestSettings::from_environment().repeat; }

void detail::begin_run(int run, int runs) {
  g_iterations.store(runs);
  g_iteration.store(run);
}

}  // namespace leakguard::catch2

using LeakguardListener = leakguard::catch2::LeakListener;  // the macro pastes the name
CATCH_REGISTER_LISTENER(LeakguardListener)
