// The checks behind the framework plugins' assertions on a statement (GoogleTest's
// EXPECT_NO_LEAK and EXPECT_MEMORY_WITHIN, Catch2's CHECK_NO_LEAK and CHECK_MEMORY_WITHIN): each
// runs the statement, says whether it passed, and gives the report to show when it did not. The
// plugins turn them into their framework's assertions.
#pragma once
#include <string>
#include <type_traits>

#include "leakguard/budget.hpp"
#include "leakguard/classify.hpp"
#include "leakguard/export.hpp"
#include "leakguard/tracing.hpp"

namespace leakguard::detail {

// Calls fn(arg) well below the caller's frame, so that what the statement leaves in its dead
// frames lies below the stack the check scans afterwards (a stale pointer there would make a
// lost block look held).
LEAKGUARD_API void run_deep(void (*fn)(void*), void* arg);

// Runs a statement and says whether it left definite leaks (in strict mode, any growth of the
// user's). The blocks it reported are then ignored (ignore_object), so that the per-test check
// does not report them a second time. LEAKGUARD_MODE applies: off passes (nothing is traced),
// report writes the report on stderr and passes.
class LEAKGUARD_API NoLeakCheck {
 public:
  template <class Fn>
  bool run(Fn&& fn) {
    if (!is_tracing()) {
      fn();
      return true;
    }
    Checkpoint start;
    run_deep([](void* f) { (*static_cast<std::remove_reference_t<Fn>*>(f))(); }, &fn);
    return passed_after(start);
  }
  // The text report of the leaks; "" when it passed.
  const std::string& message() const { return message_; }

 private:
  bool passed_after(const Checkpoint& start);
  std::string message_;
};

// Runs a statement under a MemoryBudget (budget.hpp) and says whether it held. LEAKGUARD_MODE
// applies as for NoLeakCheck.
class BudgetCheck {
 public:
  template <class Limit, class Fn>
  bool run(BudgetKind kind, Limit limit, Fn&& fn) {
    if (!is_tracing()) {
      fn();
      return true;
    }
    MemoryBudget budget(kind, limit);
    fn();
    return judged(budget.check());
  }
  const std::string& message() const { return message_; }

 private:
  bool judged(const BudgetResult& result);
  std::string message_;
};

}  // namespace leakguard::detail
