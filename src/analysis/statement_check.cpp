// The check behind EXPECT_NO_LEAK / CHECK_NO_LEAK (statement_check.hpp).
#include "leakguard/statement_check.hpp"

#include <cstdio>

#include "analysis/test_wishes.hpp"
#include "leakguard/report.hpp"
#include "leakguard/test_check.hpp"
#include "report/run_file.hpp"

namespace leakguard::detail {

__attribute__((noinline)) void run_deep(void (*fn)(void*), void* arg) {
  volatile char gap[16 * 1024];
  gap[0] = 0;
  fn(arg);
  gap[sizeof gap - 1] = 0;  // keeps the gap, and fn's frames below it, alive across the call
}

bool NoLeakCheck::passed_after(const Checkpoint& start) {
  if (start.may_have_survivors()) wipe_dead_stack();
  const CheckMode mode = check_mode();
  Classification found = classify_survivors(start);
  Classification shown;
  // Reported here: the per-test check must not report the same blocks again. The addresses are
  // zeroed after use, or their copy in freed memory would hide the blocks from the per-test
  // check's scan (see finish_test_window).
  for (Survivor& s : found.survivors) {
    const bool counts = (s.kind != SurvivorKind::kHeld || (mode == CheckMode::kStrict && users_block(s))) &&
                        !s.ignored && !suppressed(s.traceback);
    if (counts) {
      ignore_object(reinterpret_cast<const void*>(s.address));
      shown.survivors.push_back(s);
      shown.survivors.back().kind = SurvivorKind::kDirectLeak;
    }
    s.address = 0;
  }
  for (Survivor& s : shown.survivors) s.address = 0;
  if (shown.survivors.empty()) return true;
  TextOptions options;
  options.colour = colour_for_stderr();
  const std::string what = mode == CheckMode::kStrict ? "the statement grew (strict mode)" : "the statement leaked";
  const Report report = leak_report(shown, what);
  run_file_add_failure("", 0, report);
  message_ = "\n" + format_text(report, options);
  if (mode == CheckMode::kReport) {
    std::fputs(message_.c_str() + 1, stderr);
    return true;
  }
  return false;
}

bool BudgetCheck::judged(const BudgetResult& result) {
  message_ = result.message();
  if (result.exceeded) run_file_add_failure("", 0, result.report);
  if (result.exceeded && check_mode() == CheckMode::kReport) {
    std::fputs(message_.c_str(), stderr);
    return true;
  }
  return !result.exceeded;
}

}  // namespace leakguard::detail
