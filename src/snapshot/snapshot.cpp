#include "leakguard/snapshot.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "core/stack_table.hpp"
#include "core/tracer.hpp"
#include "format_size.hpp"
#include "raw_snapshot.hpp"
#include "symbolize/symbolizer.hpp"

namespace leakguard {
namespace {

// The single frame a filename/lineno statistic is keyed by.
Frame key_frame(const Frame& f, KeyType key) {
  Frame k;
  if (!f.filename.empty()) {
    k.filename = f.filename;
    if (key == KeyType::kLineno) {
      k.lineno = f.lineno;
      k.function = f.function;  // a line belongs to one function: it only names the group
    }
  } else if (key == KeyType::kLineno) {
    // Without debug info a frame is identified by its function and module address.
    k.function = f.function;
    k.module = f.module;
    k.module_offset = f.module_offset;
  } else {
    k.filename = f.module.empty() ? "<unknown>" : f.module;
  }
  return k;
}

struct Totals {
  std::size_t size = 0;
  std::size_t count = 0;
};

// Groups traces by key. Traces sharing a traceback are summed first, so the per-trace work is a
// pointer lookup whatever the key.
std::map<Traceback, Totals> group(const std::vector<Trace>& traces, KeyType key, bool cumulative) {
  if (cumulative && key == KeyType::kTraceback) {
    throw std::invalid_argument("leakguard: cumulative statistics need the filename or lineno key");
  }
  std::unordered_map<const Traceback*, Totals> per_traceback;
  for (const Trace& t : traces) {
    Totals& s = per_traceback[t.traceback_ptr.get()];
    s.size += t.size;
    s.count += 1;
  }
  std::map<Traceback, Totals> groups;
  for (const auto& [tb, totals] : per_traceback) {
    auto add = [&](const Traceback& k) {
      Totals& g = groups[k];
      g.size += totals.size;
      g.count += totals.count;
    };
    if (key == KeyType::kTraceback) {
      add(*tb);
    } else if (tb->empty()) {
      add(Traceback({Frame{}}, 1));
    } else if (!cumulative) {
      add(Traceback({key_frame(tb->attribution_frame(), key)}, 1));
    } else {
      std::set<Frame> seen;
      for (const Frame& f : *tb) {
        Frame k = key_frame(f, key);
        if (seen.insert(k).second) add(Traceback({std::move(k)}, 1));
      }
    }
  }
  return groups;
}

bool frame_matches(const Filter& filter, const Frame& f) {
  if (fnmatch(filter.filename_pattern.c_str(), f.filename.c_str(), 0) != 0) return false;
  return !filter.lineno || f.lineno == *filter.lineno;
}

}  // namespace

KeyType parse_key_type(std::string_view key) {
  if (key == "filename") return KeyType::kFilename;
  if (key == "lineno") return KeyType::kLineno;
  if (key == "traceback") return KeyType::kTraceback;
  throw std::invalid_argument("leakguard: unknown statistics key '" + std::string(key) +
                              "' (expected filename, lineno or traceback)");
}

std::string Statistic::str() const {
  std::string text = traceback.str() + ": size=" + detail::format_size(static_cast<double>(size), false) +
                     ", count=" + std::to_string(count);
  if (count != 0) {
    text += ", average=" +
            detail::format_size(static_cast<double>(size) / static_cast<double>(count), false);
  }
  return text;
}

std::string StatisticDiff::str() const {
  std::string text = traceback.str() + ": size=" + detail::format_size(static_cast<double>(size), false) +
                     " (" + detail::format_size(static_cast<double>(size_diff), true) + "), count=" +
                     std::to_string(count) + " (" + (count_diff >= 0 ? "+" : "") +
                     std::to_string(count_diff) + ")";
  if (count != 0) {
    text += ", average=" +
            detail::format_size(static_cast<double>(size) / static_cast<double>(count), false);
  }
  return text;
}

bool Filter::matches(const Trace& trace) const {
  const Traceback& tb = trace.traceback();
  bool result;
  if (all_frames) {
    const bool any = std::any_of(tb.begin(), tb.end(), [&](const Frame& f) { return frame_matches(*this, f); });
    result = inclusive ? any : !any;
  } else {
    const bool m = frame_matches(*this, tb.empty() ? Frame{} : tb.attribution_frame());
    result = inclusive ? m : !m;
  }
  if (domain) return inclusive ? (result && trace.domain == *domain) : (result || trace.domain != *domain);
  return result;
}

bool DomainFilter::matches(const Trace& trace) const {
  return inclusive ? trace.domain == domain : trace.domain != domain;
}

Snapshot::Snapshot() = default;

Snapshot::Snapshot(std::vector<Trace> traces, int traceback_limit)
    : traces_(std::move(traces)), traceback_limit_(traceback_limit) {}

std::vector<Statistic> Snapshot::statistics(KeyType key, bool cumulative) const {
  detail::UntracedScope untraced;  // a report must not show up in the next one
  std::vector<Statistic> stats;
  for (auto& [tb, totals] : group(traces_, key, cumulative)) {
    stats.push_back(Statistic{tb, totals.size, totals.count});
  }
  std::sort(stats.begin(), stats.end(), [](const Statistic& a, const Statistic& b) {
    if (a.size != b.size) return a.size > b.size;
    if (a.count != b.count) return a.count > b.count;
    return b.traceback < a.traceback;
  });
  return stats;
}

std::vector<StatisticDiff> Snapshot::compare_to(const Snapshot& old, KeyType key, bool cumulative) const {
  detail::UntracedScope untraced;  // a report must not show up in the next one
  auto now = group(traces_, key, cumulative);
  const auto before = group(old.traces_, key, cumulative);
  std::vector<StatisticDiff> diffs;
  for (const auto& [tb, n] : now) {
    Totals b;
    if (auto it = before.find(tb); it != before.end()) b = it->second;
    diffs.push_back(StatisticDiff{tb, n.size,
                                  static_cast<std::ptrdiff_t>(n.size) - static_cast<std::ptrdiff_t>(b.size),
                                  n.count,
                                  static_cast<std::ptrdiff_t>(n.count) - static_cast<std::ptrdiff_t>(b.count)});
  }
  for (const auto& [tb, b] : before) {
    if (now.count(tb) != 0) continue;
    diffs.push_back(StatisticDiff{tb, 0, -static_cast<std::ptrdiff_t>(b.size), 0,
                                  -static_cast<std::ptrdiff_t>(b.count)});
  }
  std::sort(diffs.begin(), diffs.end(), [](const StatisticDiff& a, const StatisticDiff& b) {
    if (std::abs(a.size_diff) != std::abs(b.size_diff)) return std::abs(a.size_diff) > std::abs(b.size_diff);
    if (a.size != b.size) return a.size > b.size;
    if (std::abs(a.count_diff) != std::abs(b.count_diff)) return std::abs(a.count_diff) > std::abs(b.count_diff);
    if (a.count != b.count) return a.count > b.count;
    return b.traceback < a.traceback;
  });
  return diffs;
}

Snapshot Snapshot::filter_traces(const std::vector<TraceFilter>& filters) const {
  detail::UntracedScope untraced;  // a report must not show up in the next one
  std::vector<const TraceFilter*> include, exclude;
  for (const auto& f : filters) {
    const bool inclusive = std::visit([](const auto& x) { return x.inclusive; }, f);
    (inclusive ? include : exclude).push_back(&f);
  }
  auto passes = [](const TraceFilter* f, const Trace& t) {
    return std::visit([&](const auto& x) { return x.matches(t); }, *f);
  };
  std::vector<Trace> kept;
  for (const Trace& t : traces_) {
    if (!include.empty() &&
        std::none_of(include.begin(), include.end(), [&](const TraceFilter* f) { return passes(f, t); })) {
      continue;
    }
    if (std::any_of(exclude.begin(), exclude.end(), [&](const TraceFilter* f) { return !passes(f, t); })) {
      continue;
    }
    kept.push_back(t);
  }
  return Snapshot(std::move(kept), traceback_limit_);
}

Snapshot take_snapshot() {
  if (!is_tracing()) {
    throw std::logic_error("leakguard::take_snapshot(): tracing is off; call leakguard::start() first");
  }
  return detail::snapshot_from_raw(detail::tracer_collect(), get_traceback_limit());
}

namespace detail {
Traceback traceback_of(std::uint32_t stack_id) {
  UntracedScope untraced;
  const StackRecord* rec = stack_record(stack_id);
  if (rec == nullptr) return Traceback();
  return Traceback(symbolize_stack(rec->frames, rec->nframes), rec->nframes);
}

Snapshot snapshot_from_raw(const std::vector<RawTrace>& raw, int limit) {
  UntracedScope untraced;  // a report must not show up in the next one
  std::unordered_map<std::uint32_t, std::shared_ptr<const Traceback>> tracebacks;
  std::vector<Trace> traces;
  traces.reserve(raw.size());
  for (const auto& r : raw) {
    auto& tb = tracebacks[r.stack_id];
    if (!tb) tb = std::make_shared<const Traceback>(traceback_of(r.stack_id));
    traces.push_back(Trace{static_cast<Domain>(r.domain), static_cast<std::size_t>(r.size), tb});
  }
  return Snapshot(std::move(traces), limit);
}
}  // namespace detail

}  // namespace leakguard
