// detect_leak(): CPython's regrtest -R rule over repeated runs of a function.
#include <stdexcept>

#include "core/tracer.hpp"
#include "leakguard/analysis.hpp"

namespace leakguard {

const char* to_string(LeakVerdict verdict) {
  switch (verdict) {
    case LeakVerdict::kNoLeak: return "no leak";
    case LeakVerdict::kSuspicious: return "suspicious";
    case LeakVerdict::kLeak: return "leak";
  }
  return "?";
}

LeakReport detect_leak(const std::function<void()>& fn, int iterations, int warmup, std::size_t tolerance_bytes) {
  if (iterations < 1 || warmup < 0) {
    throw std::invalid_argument("leakguard::detect_leak(): needs iterations >= 1 and warmup >= 0, got " +
                                std::to_string(iterations) + " and " + std::to_string(warmup));
  }
  if (!is_tracing()) {
    throw std::logic_error("leakguard::detect_leak(): tracing is off; start it (a leakguard::TraceScope will do)");
  }
  LeakReport report;
  report.iterations = iterations;
  report.warmup = warmup;
  report.tolerance = tolerance_bytes;
  for (int i = 0; i < warmup; ++i) fn();

  // Room for the deltas is made now: between runs, only the tracer's totals are read, which
  // allocates nothing.
  report.byte_deltas.resize(static_cast<std::size_t>(iterations));
  report.block_deltas.resize(static_cast<std::size_t>(iterations));
  const Snapshot before = take_snapshot(true, true);
  detail::MemoryTotals last = detail::tracer_totals();
  const detail::MemoryTotals first = last;
  for (int i = 0; i < iterations; ++i) {
    fn();
    const detail::MemoryTotals now = detail::tracer_totals();
    report.byte_deltas[static_cast<std::size_t>(i)] =
        static_cast<std::int64_t>(now.current) - static_cast<std::int64_t>(last.current);
    report.block_deltas[static_cast<std::size_t>(i)] =
        static_cast<std::int64_t>(now.blocks) - static_cast<std::int64_t>(last.blocks);
    last = now;
  }
  report.total_growth = static_cast<std::int64_t>(last.current) - static_cast<std::int64_t>(first.current);
  report.per_iter = static_cast<double>(report.total_growth) / iterations;
  report.top_sites = diff_snapshots(before, take_snapshot(true, true));

  int grew = 0;
  for (int i = 0; i < iterations; ++i) {
    const auto bytes = report.byte_deltas[static_cast<std::size_t>(i)];
    const auto blocks = report.block_deltas[static_cast<std::size_t>(i)];
    if (bytes > static_cast<std::int64_t>(tolerance_bytes) || blocks > 0) ++grew;
  }
  report.verdict = grew == iterations ? LeakVerdict::kLeak : (grew == 0 ? LeakVerdict::kNoLeak : LeakVerdict::kSuspicious);
  return report;
}

}  // namespace leakguard
