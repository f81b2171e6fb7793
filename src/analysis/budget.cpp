// Net and peak memory budgets. The peak one relies on the trace table's watch on the total
// (watch_total), which records the live blocks at the allocation that crosses the budget.
#include "leakguard/budget.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <vector>

#include "analysis/snapshot_filters.hpp"
#include "core/tracer.hpp"
#include "leakguard/analysis.hpp"
#include "leakguard/sizes.hpp"
#include "snapshot/raw_snapshot.hpp"

namespace leakguard {
namespace {

// A peak budget's hold on the trace table's one watch.
struct PeakWatch {
  std::int64_t threshold = 0;
  // What the watch saw while an inner peak budget had it.
  std::int64_t peak_while_suspended = 0;
  std::optional<detail::Crossing> crossing;
};

// The peak budgets alive, innermost last. The innermost one owns the watch; the outer ones wait
// with what they saw before it (a test's budget around an EXPECT_MEMORY_WITHIN).
std::mutex g_peak_mutex;
std::vector<PeakWatch*> g_peak_budgets;

// What grew from `before` to `after`, the runtime's and leakguard's own blocks left out.
Report growth_between(std::vector<detail::RawTrace> before, std::vector<detail::RawTrace> after, const char* what) {
  const detail::Change change = detail::change_between(std::move(before), std::move(after));
  return growth_report(detail::exclude_runtime_and_self(change.gone, true, true),
                       detail::exclude_runtime_and_self(change.came, true, true), what);
}

// The innermost budget hands the watch over: what it saw so far stays with it.
void suspend(PeakWatch& w) {
  detail::Crossing c = detail::end_watch();
  w.peak_while_suspended = std::max(w.peak_while_suspended, static_cast<std::int64_t>(get_traced_memory().peak));
  if (c.fired && !w.crossing) w.crossing = std::move(c);
}

// Takes the watch back; the peak counter keeps the inner budget's high point, which is ours too.
void resume(PeakWatch& w) {
  if (!w.crossing) detail::watch_total(static_cast<std::uint64_t>(w.threshold));
}

void pop(PeakWatch* w) {
  std::lock_guard<std::mutex> lock(g_peak_mutex);
  const auto it = std::find(g_peak_budgets.begin(), g_peak_budgets.end(), w);
  if (it == g_peak_budgets.end()) return;
  const bool innermost = it + 1 == g_peak_budgets.end();
  g_peak_budgets.erase(it);
  if (innermost && !g_peak_budgets.empty()) resume(*g_peak_budgets.back());
}

}  // namespace

struct MemoryBudget::State {
  BudgetKind kind;
  std::int64_t budget;
  std::int64_t start_bytes;
  // The blocks live at the start, symbolized only if a report needs them, and then only those
  // that changed (growth_between).
  std::vector<detail::RawTrace> start_raw;
  std::optional<BudgetResult> result;
  PeakWatch peak;
};

MemoryBudget::MemoryBudget(BudgetKind kind, std::size_t budget_bytes) : state_(nullptr) {
  if (!is_tracing()) {
    throw std::logic_error("leakguard::MemoryBudget: tracing is off; start it (a leakguard::TraceScope will do)");
  }
  detail::UntracedScope untraced;  // the budget's own bookkeeping is not the code's memory
  state_ = new State{kind, static_cast<std::int64_t>(budget_bytes), 0, detail::tracer_collect(), std::nullopt, PeakWatch{}};
  if (kind == BudgetKind::kPeak) {
    std::lock_guard<std::mutex> lock(g_peak_mutex);
    if (!g_peak_budgets.empty()) suspend(*g_peak_budgets.back());
    g_peak_budgets.push_back(&state_->peak);
    state_->start_bytes = static_cast<std::int64_t>(get_traced_memory().current);
    state_->peak.threshold = state_->start_bytes + state_->budget;
    reset_peak();
    detail::watch_total(static_cast<std::uint64_t>(state_->peak.threshold));
  } else {
    state_->start_bytes = static_cast<std::int64_t>(get_traced_memory().current);
  }
}

MemoryBudget::MemoryBudget(BudgetKind kind, std::string_view budget) : MemoryBudget(kind, parse_bytes(budget)) {}

MemoryBudget::~MemoryBudget() {
  if (state_ == nullptr) return;
  if (state_->kind == BudgetKind::kPeak && !state_->result) {
    try {
      check();  // ends the watch, and hands it back to the budget around this one
    } catch (...) {
      if (state_->kind == BudgetKind::kPeak) pop(&state_->peak);
    }
  }
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
    if (r.exceeded) r.report = growth_between(state_->start_raw, detail::tracer_collect(), "net growth over budget");
  } else {
    detail::Crossing crossing;
    std::int64_t high = static_cast<std::int64_t>(peak);
    {
      std::lock_guard<std::mutex> lock(g_peak_mutex);
      const bool owns_watch = !g_peak_budgets.empty() && g_peak_budgets.back() == &state_->peak;
      if (owns_watch) crossing = detail::end_watch();
      if (state_->peak.crossing) crossing = std::move(*state_->peak.crossing);
      high = std::max(high, state_->peak.peak_while_suspended);
    }
    pop(&state_->peak);
    r.used = high - state_->start_bytes;
    r.exceeded = crossing.fired || r.used > r.budget;
    if (crossing.fired) {
      r.used = std::max(r.used, static_cast<std::int64_t>(crossing.total) - state_->start_bytes);
      r.report = growth_between(state_->start_raw, std::move(crossing.live), "peak over budget");
      r.crossing = detail::traceback_of(crossing.stack_id);
    } else if (r.exceeded) {
      r.report = growth_between(state_->start_raw, detail::tracer_collect(), "peak over budget");
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
