// The GoogleTest adapter: a test is a window; its definite leaks become a non-fatal failure at the
// allocating line. All the logic is leakguard's core (classify.hpp, report.hpp).
#include <gtest/gtest.h>

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
  void OnTestStart(const ::testing::TestInfo&) override {
    if (is_tracing()) window_.emplace();
  }

  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (!window_) return;
    Checkpoint window = std::move(*window_);
    window_.reset();
    if (info.result()->Skipped()) return;
    wipe_dead_stack();
    const Classification found = classify_survivors(window);
    ::testing::Test::RecordProperty("leakguard_leaked_bytes", std::to_string(found.definite_bytes));
    ::testing::Test::RecordProperty("leakguard_leaked_blocks", std::to_string(found.definite_blocks));
    if (found.definite_blocks == 0) return;
    const Report report = leak_report(found, "leak");
    TextOptions options;
    options.colour = colour_for_stderr();
    const Frame& at = report.sites[0].traceback.attribution_frame();
    const bool located = at.has_source();
    GTEST_MESSAGE_AT_(located ? at.filename.c_str() : info.file(), located ? at.lineno : info.line(),
                      format_text(report, options).c_str(), ::testing::TestPartResult::kNonFatalFailure);
  }

 private:
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
  const Classification found = classify_survivors(start);
  if (found.definite_blocks == 0) return true;
  // Reported here: the listener must not report the same blocks again at the end of the test.
  for (const Survivor& s : found.survivors) {
    if (s.kind != SurvivorKind::kHeld) ignore_object(reinterpret_cast<const void*>(s.address));
  }
  TextOptions options;
  options.colour = colour_for_stderr();
  message_ = "\n" + format_text(leak_report(found, "the statement leaked"), options);
  return false;
}

}  // namespace detail

void install() {
  // GoogleTest's own frames read as framework code: folded in reports, never a leak's site.
  AttributionRule rule = attribution_rule();
  rule.system_namespaces.push_back("testing::");
  const std::string here = __FILE__;  // and so are the plugin's own sources
  rule.system_files.push_back(here.substr(0, here.rfind('/')) + "/*");
  set_attribution_rule(std::move(rule));
  ::testing::UnitTest::GetInstance()->listeners().Append(new LeakListener);
}

}  // namespace leakguard::gtest
