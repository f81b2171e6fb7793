// Net and peak memory budgets. The peak one relies on the trace table's watch on the total
// (watch_total), which records the live blocks at the allocation that crosses the budget.
#include "leakguard/budget.hpp"

#include <algorithm>
#include <atomic>

#include "analysis/snapshot_filters.hpp"
#include "core/tracer.hpp"
#include "leakguard/analysis.hpp"
#include "leakguard/sizes.hpp"
#include "snapshot/raw_snapshot.hpp"

namespace leakguard {
namespace {
std::atomic<bool> g_peak_budget_active{false};
}  // namespace

struct MemoryBudget::State {
  BudgetKind kind;
  std::int64_t budget;
  std::int64_t start_bytes;
  Snapshot start;
  std::optional<BudgetResult> result;
};

MemoryBudget::MemoryBudget(BudgetKind kind, std::size_t budget_bytes) : state_(nullptr) {
  if (!is_tracing()) {
    throw std::logic_error("leakguard::MemoryBudget: tracing is off; start it (a leakguard::TraceScope will do)");
  }
  if (kind == BudgetKind::kPeak && g_peak_budget_active.exchange(true)) {
    throw std::logic_error("leakguard::MemoryBudget: another peak budget is active; they cannot nest");
  }
  detail::UntracedScope untraced;  // the budget's own bookkeeping is not the code's memory
  state_ = new State{kind, static_cast<std::int64_t>(budget_bytes), 0, take_snapshot(true, true), std::nullopt};
  state_->start_bytes = static_cast<std::int64_t>(get_traced_memory().current);
  if (kind == BudgetKind::kPeak) {
    reset_peak();
    detail::watch_total(static_cast<std::uint64_t>(state_->start_bytes) + budget_bytes);
  }
}

MemoryBudget::MemoryBudget(BudgetKind kind, std::string_view budget) : MemoryBudget(kind, parse_bytes(budget)) {}

MemoryBudget::~MemoryBudget() {
  if (state_ == nullptr) return;
  if (state_->kind == BudgetKind::kPeak && !state_->result) {
    detail::end_watch();
  }
  if (state_->kind == BudgetKind::kPeak) g_peak_budget_active.store(false);
  detail::UntracedScope untraced;
  delete state_;
}

BudgetResult MemoryBudget::check() {
  if (state_->result) return *state_->result;
  detail::UntracedScope untraced;
  BudgetResult r;
  r.kind = state_->kind;
  r.budget = state_->budget;
  const auto [current, peak] = get_traced_memory();
  if (state_->kind == BudgetKind::kNet) {
    r.used = static_cast<std::int64_t>(current) - state_->start_bytes;
    r.exceeded = r.used > r.budget;
    if (r.exceeded) {
      r.report = growth_report(state_->start, take_snapshot(true, true), "net growth over budget");
    }
  } else {
    const detail::Crossing crossing = detail::end_watch();
    r.used = static_cast<std::int64_t>(peak) - state_->start_bytes;
    r.exceeded = crossing.fired || r.used > r.budget;
    if (crossing.fired) {
      r.used = std::max(r.used, static_cast<std::int64_t>(crossing.total) - state_->start_bytes);
      const Snapshot at_crossing = detail::exclude_runtime_and_self(
          detail::snapshot_from_raw(crossing.live, get_traceback_limit()), true, true);
      r.report = growth_report(state_->start, at_crossing, "peak over budget");
      r.crossing = detail::traceback_of(crossing.stack_id);
    } else if (r.exceeded) {
      r.report = growth_report(state_->start, take_snapshot(true, true), "peak over budget");
    }
  }
  r.report.budget = r.budget;
  state_->result = r;
  return r;
}

void MemoryBudget::check_or_throw() {
  const BudgetResult r = check();
  if (r.exceeded) throw BudgetExceeded(r.message());
}

}  // namespace leakguard
