// Snapshots seen as allocation sites: what take_snapshot(exclude_system, exclude_self) keeps, the
// top sites, the sites that grew, and how they print.
#include <algorithm>
#include <iterator>
#include <tuple>
#include <iostream>
#include <ostream>

#include "core/tracer.hpp"
#include "leakguard/analysis.hpp"
#include "leakguard/attribution.hpp"
#include "leakguard/sizes.hpp"
#include "analysis/snapshot_filters.hpp"
#include "snapshot/attribution_rule.hpp"
#include "snapshot/raw_snapshot.hpp"

namespace leakguard {
namespace {

bool is_leakguard(const Frame& f) {
  return qualified_function_name(f.function).rfind("leakguard::", 0) == 0 ||
         f.module.find("libleakguard") != std::string::npos;
}

// True when leakguard's own code asked for the block: going outward from the allocation, the
// first frame that is not the C/C++ runtime is leakguard's. (Your code called from leakguard, such
// as the function detect_leak() runs, is yours.)
bool allocated_by_leakguard(const Traceback& tb, const AttributionRule& rule) {
  for (const Frame& f : tb) {
    if (is_leakguard(f)) return true;
    if (!rule.is_system(f)) return false;
  }
  return false;
}

// The frame a statistic or diff names: its single key frame, or a whole traceback's attribution
// frame.
const Frame& site_frame(const Traceback& tb) {
  static const Frame kUnknown;
  if (tb.empty()) return kUnknown;
  return tb.size() == 1 ? tb[0] : tb.attribution_frame();
}

}  // namespace

Snapshot take_snapshot(bool exclude_system, bool exclude_self) {
  return detail::exclude_runtime_and_self(take_snapshot(), exclude_system, exclude_self);
}

Snapshot detail::exclude_runtime_and_self(Snapshot all, bool exclude_system, bool exclude_self) {
  if (!exclude_system && !exclude_self) return all;
  detail::UntracedScope untraced;
  const auto rule = detail::current_attribution_rule();
  std::vector<Trace> kept;
  kept.reserve(all.traces().size());
  for (const Trace& t : all.traces()) {
    const Traceback& tb = t.traceback();
    // The attribution frame is system code only when every frame is.
    if (exclude_system && !tb.empty() && rule->is_system(tb.attribution_frame())) continue;
    if (exclude_self && allocated_by_leakguard(tb, *rule)) continue;
    kept.push_back(t);
  }
  return Snapshot(std::move(kept), all.traceback_limit());
}

detail::Change detail::change_between(std::vector<RawTrace> before, std::vector<RawTrace> after) {
  detail::UntracedScope untraced;
  auto by_identity = [](const RawTrace& a, const RawTrace& b) {
    return std::tie(a.addr, a.size, a.stack_id, a.domain) < std::tie(b.addr, b.size, b.stack_id, b.domain);
  };
  std::sort(before.begin(), before.end(), by_identity);
  std::sort(after.begin(), after.end(), by_identity);
  std::vector<RawTrace> gone, came;
  std::set_difference(before.begin(), before.end(), after.begin(), after.end(), std::back_inserter(gone), by_identity);
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::back_inserter(came), by_identity);
  const int limit = get_traceback_limit();
  return Change{snapshot_from_raw(gone, limit), snapshot_from_raw(came, limit)};
}

std::vector<MemoryStat> top_allocations(const Snapshot& snapshot, std::size_t limit, KeyType key) {
  std::vector<MemoryStat> top;
  for (const Statistic& s : snapshot.statistics(key)) {
    if (limit != 0 && top.size() == limit) break;
    const Frame& f = site_frame(s.traceback);
    top.push_back(MemoryStat{f.filename, f.lineno, f.function, s.size, s.count,
                             source_line(f.filename, f.lineno)});
  }
  return top;
}

std::vector<AllocDiff> diff_snapshots(const Snapshot& before, const Snapshot& after, std::size_t limit,
                                      KeyType key, bool only_growth) {
  std::vector<StatisticDiff> diffs = after.compare_to(before, key);
  diffs.erase(std::remove_if(diffs.begin(), diffs.end(),
                             [&](const StatisticDiff& d) {
                               return only_growth ? d.size_diff <= 0 : d.size_diff == 0 && d.count_diff == 0;
                             }),
              diffs.end());
  std::stable_sort(diffs.begin(), diffs.end(), [](const StatisticDiff& a, const StatisticDiff& b) {
    if (a.size_diff != b.size_diff) return a.size_diff > b.size_diff;
    return a.size > b.size;
  });
  std::vector<AllocDiff> out;
  for (const StatisticDiff& d : diffs) {
    if (limit != 0 && out.size() == limit) break;
    const Frame& f = site_frame(d.traceback);
    out.push_back(AllocDiff{f.filename, f.lineno, f.function, d.size_diff, d.count_diff, d.size, d.count,
                            source_line(f.filename, f.lineno)});
  }
  return out;
}

namespace {

std::string where(const std::string& filename, int lineno, const std::string& function) {
  if (!filename.empty()) return filename + ":" + std::to_string(lineno);
  return function.empty() ? "<unknown>" : function;
}

std::string blocks(std::ptrdiff_t n, bool sign) {
  std::string s = (sign && n >= 0 ? "+" : "") + std::to_string(n);
  return s + (n == 1 || n == -1 ? " block" : " blocks");
}

}  // namespace

void print_top(const std::vector<MemoryStat>& stats, std::ostream& out) {
  for (std::size_t i = 0; i < stats.size(); ++i) {
    const MemoryStat& s = stats[i];
    out << "#" << i + 1 << ": " << where(s.filename, s.lineno, s.function) << ": "
        << format_bytes(static_cast<std::int64_t>(s.size)) << " in "
        << blocks(static_cast<std::ptrdiff_t>(s.count), false) << "\n";
    if (!s.source.empty()) out << "    " << s.source << "\n";
  }
}

void print_top(const std::vector<AllocDiff>& diffs, std::ostream& out) {
  for (std::size_t i = 0; i < diffs.size(); ++i) {
    const AllocDiff& d = diffs[i];
    out << "#" << i + 1 << ": " << where(d.filename, d.lineno, d.function) << ": "
        << format_bytes(d.size_diff, true) << " " << blocks(d.count_diff, true) << " (now "
        << format_bytes(static_cast<std::int64_t>(d.size)) << " in "
        << blocks(static_cast<std::ptrdiff_t>(d.count), false) << ")\n";
    if (!d.source.empty()) out << "    " << d.source << "\n";
  }
}

void print_top(const std::vector<MemoryStat>& stats) { print_top(stats, std::cerr); }
void print_top(const std::vector<AllocDiff>& diffs) { print_top(diffs, std::cerr); }

}  // namespace leakguard
