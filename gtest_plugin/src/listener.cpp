// The GoogleTest adapter: a test is a window; its definite leaks become a non-fatal failure at the
// allocating line. All the logic is leakguard's core (classify.hpp, report.hpp).
#include <gtest/gtest.h>

#include <cstdio>
#include <optional>
#include <string>

#include <leakguard/leakguard.hpp>

#include "leakguard/gtest.hpp"

namespace leakguard::gtest {
namespace {

class LeakListener : public ::testing::EmptyTestEventListener {
 public:
  explicit LeakListener(CheckMode mode) : mode_(mode) {}

  void OnTestIterationStart(const ::testing::UnitTest&, int iteration) override { iteration_ = iteration; }

  void OnTestStart(const ::testing::TestInfo&) override {
    if (is_tracing()) window_.emplace();
  }

  // Kept tiny on purpose: the test's dead frames lie where this frame and the check's frames go,
  // and the scan reads the check's callers. Everything with locals runs below the wiped stack.
  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (!window_) return;
    wipe_dead_stack();
    end_test(info);
  }

 private:
  __attribute__((noinline)) void end_test(const ::testing::TestInfo& info) {
    Checkpoint window = std::move(*window_);
    window_.reset();
    if (info.result()->Skipped()) return;
    const TestVerdict verdict = finish_test_window(window, mode_);
    ::testing::Test::RecordProperty("leakguard_leaked_bytes", std::to_string(verdict.leaked_bytes));
    ::testing::Test::RecordProperty("leakguard_leaked_blocks", std::to_string(verdict.leaked_blocks));
    const std::string name = std::string(info.test_suite_name()) + "." + info.name();
    check_repeated_runs(info, name, verdict);
    if (verdict.report.sites.empty()) {
      if (verdict.held_bytes >= kHeldNote) {
        std::fprintf(stderr, "leakguard: %s holds %s in %zu blocks still reachable (caches, statics): not a leak\n",
                     name.c_str(), format_bytes(static_cast<std::int64_t>(verdict.held_bytes)).c_str(),
                     verdict.held_blocks);
      }
      return;
    }
    TextOptions options;
    options.colour = colour_for_stderr();
    const std::string text = format_text(verdict.report, options);
    if (!verdict.failed) {  // report mode
      std::fprintf(stderr, "%s: %s", name.c_str(), text.c_str());
      return;
    }
    const Frame& at = verdict.report.sites[0].traceback.attribution_frame();
    const bool located = at.has_source();
    GTEST_MESSAGE_AT_(located ? at.filename.c_str() : info.file(), located ? at.lineno : info.line(), text.c_str(),
                      ::testing::TestPartResult::kNonFatalFailure);
  }

  // Under --gtest_repeat, the last run of a test judges all of its runs after the first.
  void check_repeated_runs(const ::testing::TestInfo& info, const std::string& name, const TestVerdict& verdict) {
    const int repeat = GTEST_FLAG_GET(repeat);
    if (repeat < 2 || mode_ == CheckMode::kOff) return;
    runs_.record(name, verdict);
    if (iteration_ != repeat - 1) return;
    const LeakVerdict across = runs_.verdict(name);
    if (across == LeakVerdict::kNoLeak) return;
    std::string grew;
    for (const std::int64_t bytes : runs_.growth_after_warmup(name)) grew += " " + format_bytes(bytes, true);
    if (across == LeakVerdict::kSuspicious) {
      std::fprintf(stderr, "leakguard: %s grew in some of its repeated runs only (after the first:%s): suspicious, not failed\n",
                   name.c_str(), grew.c_str());
      return;
    }
    Report report = verdict.growth;
    report.what = "growth in every repeated run after the first (" + grew.substr(1) + ")";
    const Frame* at = report.sites.empty() ? nullptr : &report.sites[0].traceback.attribution_frame();
    const bool located = at != nullptr && at->has_source();
    TextOptions options;
    options.colour = colour_for_stderr();
    const std::string text = format_text(report, options);
    if (mode_ == CheckMode::kReport) {
      std::fprintf(stderr, "%s: %s", name.c_str(), text.c_str());
      return;
    }
    GTEST_MESSAGE_AT_(located ? at->filename.c_str() : info.file(), located ? at->lineno : info.line(), text.c_str(),
                      ::testing::TestPartResult::kNonFatalFailure);
  }

  // Held growth worth a line on stderr.
  static constexpr std::size_t kHeldNote = 1 << 20;
  CheckMode mode_;
  std::optional<Checkpoint> window_;
  int iteration_ = 0;
  RepeatedRuns runs_;
};

// Tracing from load time, before other static constructors (leakguard's own environment switch,
// LEAKGUARD_START, may already have started it with another frame count).
__attribute__((constructor(102))) void start_tracing_at_load() {
  if (!is_tracing()) start();
}

}  // namespace

namespace detail {

__attribute__((noinline)) void run_deep(void (*fn)(void*), void* arg) {
  volatile char gap[16 * 1024];
  gap[0] = 0;
  fn(arg);
  gap[sizeof gap - 1] = 0;  // keeps the gap, and fn's frames below it, alive across the call
}

bool NoLeakCheck::passed_after(const Checkpoint& start) {
  wipe_dead_stack();
  Classification found = classify_survivors(start);
  // Reported here: the listener must not report the same blocks again at the end of the test.
  // The addresses are zeroed after use, or their copy in freed memory would hide the blocks from
  // the listener's scan (see finish_test_window).
  for (Survivor& s : found.survivors) {
    if (s.kind != SurvivorKind::kHeld) ignore_object(reinterpret_cast<const void*>(s.address));
    s.address = 0;
  }
  if (found.definite_blocks == 0) return true;
  TextOptions options;
  options.colour = colour_for_stderr();
  message_ = "\n" + format_text(leak_report(found, "the statement leaked"), options);
  return false;
}

}  // namespace detail

void install() {
  const CheckMode mode = check_mode_from_environment();
  if (mode == CheckMode::kOff) {
    stop();  // nothing to check: no cost either
    return;
  }
  // GoogleTest's own frames read as framework code: folded in reports, never a leak's site.
  AttributionRule rule = attribution_rule();
  rule.system_namespaces.push_back("testing::");
  const std::string here = __FILE__;  // and so are the plugin's own sources
  rule.system_files.push_back(here.substr(0, here.rfind('/')) + "/*");
  set_attribution_rule(std::move(rule));
  ::testing::UnitTest::GetInstance()->listeners().Append(new LeakListener(mode));
}

}  // namespace leakguard::gtest
