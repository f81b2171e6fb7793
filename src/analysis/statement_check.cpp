// The check behind EXPECT_NO_LEAK / CHECK_NO_LEAK (statement_check.hpp).
#include "leakguard/statement_check.hpp"

#include "leakguard/report.hpp"
#include "leakguard/test_check.hpp"

namespace leakguard::detail {

__attribute__((noinline)) void run_deep(void (*fn)(void*), void* arg) {
  volatile char gap[16 * 1024];
  gap[0] = 0;
  fn(arg);
  gap[sizeof gap - 1] = 0;  // keeps the gap, and fn's frames below it, alive across the call
}

bool NoLeakCheck::passed_after(const Checkpoint& start) {
  wipe_dead_stack();
  Classification found = classify_survivors(start);
  // Reported here: the per-test check must not report the same blocks again. The addresses are
  // zeroed after use, or their copy in freed memory would hide the blocks from the per-test
  // check's scan (see finish_test_window).
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

}  // namespace leakguard::detail
