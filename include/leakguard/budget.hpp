// Memory budgets over a block of code: how much it may grow (net) or how high it may go (peak),
// and, when it goes over, where the memory came from.
//
//   leakguard::MemoryBudget budget(leakguard::BudgetKind::kPeak, "24 MB");
//   parse_everything();
//   const leakguard::BudgetResult result = budget.check();
//   if (result.exceeded) std::cerr << result.message();
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "leakguard/export.hpp"
#include "leakguard/report.hpp"
#include "leakguard/traceback.hpp"

namespace leakguard {

enum class BudgetKind {
  kNet,   // traced bytes at check() may exceed those at the start by at most the budget
  kPeak,  // traced bytes may never exceed those at the start by more than the budget
};

struct BudgetResult {
  BudgetKind kind = BudgetKind::kNet;
  std::int64_t budget = 0;  // bytes
  // Net: bytes grown from the start to check(). Peak: the highest the traced total went above
  // the start.
  std::int64_t used = 0;
  bool exceeded = false;
  // When exceeded. Net: the sites that grew. Peak: the sites holding memory above the start at
  // the moment the budget was first crossed, the crossing block included.
  Report report;
  std::optional<Traceback> crossing;  // peak: the allocation that crossed the budget
  // The text report (format_text), and for a peak budget the crossing allocation's traceback
  // folded the same way; "" when the budget held.
  std::string message() const;
};

// Measures from construction to check(). Tracing must be on (std::logic_error otherwise).
// A peak budget resets the traced peak (reset_peak()) and watches the traced total. Peak budgets
// nest on one thread, as scopes do (a test's budget around an EXPECT_MEMORY_WITHIN): the innermost
// one watches, and an outer one sees the inner ones' high points too. Budgets never throw from
// their destructor.
class LEAKGUARD_API MemoryBudget {
 public:
  MemoryBudget(BudgetKind kind, std::size_t budget_bytes);
  // "24 MB", "512 KiB", "4096": see parse_bytes() (BadSize for a bad string).
  MemoryBudget(BudgetKind kind, std::string_view budget);
  ~MemoryBudget();
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Ends the measurement and says whether the budget held. Later calls return the same result.
  BudgetResult check();
  // check(), throwing BudgetExceeded with message() when the budget did not hold. Call it where
  // an exception may leave, never from a destructor.
  void check_or_throw();

 private:
  struct State;
  State* state_;
};

class LEAKGUARD_API BudgetExceeded : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace leakguard
