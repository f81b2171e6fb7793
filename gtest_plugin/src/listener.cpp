// The GoogleTest adapter: a test is a window; its definite leaks become a non-fatal failure at the
// allocating line. All the logic is leakguard's core (classify.hpp, report.hpp).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include <leakguard/leakguard.hpp>

#include "leakguard/gtest.hpp"

namespace leakguard::gtest {
namespace {

// The test's own frames are dead once it returns but keep their values; a pointer left there
// would count as a reference. Wiping the stack below the listener removes them.
__attribute__((noinline)) void wipe_dead_stack() {
  volatile char wipe[16 * 1024];
  std::memset(const_cast<char*>(wipe), 0, sizeof wipe);
}

class LeakListener : public ::testing::EmptyTestEventListener {
 public:
  explicit LeakListener(CheckMode mode) : mode_(mode) {}

  void OnTestStart(const ::testing::TestInfo&) override {
    if (is_tracing()) window_.emplace();
  }

  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (!window_) return;
    Checkpoint window = std::move(*window_);
    window_.reset();
    if (info.result()->Skipped()) return;
    wipe_dead_stack();
    const TestVerdict verdict = finish_test_window(window, mode_);
    ::testing::Test::RecordProperty("leakguard_leaked_bytes", std::to_string(verdict.leaked_bytes));
    ::testing::Test::RecordProperty("leakguard_leaked_blocks", std::to_string(verdict.leaked_blocks));
    const std::string name = std::string(info.test_suite_name()) + "." + info.name();
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

 private:
  // Held growth worth a line on stderr.
  static constexpr std::size_t kHeldNote = 1 << 20;
  CheckMode mode_;
  std::optional<Checkpoint> window_;
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
