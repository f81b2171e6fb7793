// growth_report(): the sites that grew between two snapshots.
#include <algorithm>
#include <map>
#include <sstream>

#include "core/tracer.hpp"
#include "leakguard/report.hpp"
#include "snapshot/attribution_rule.hpp"

namespace leakguard {
namespace {

// A frame as reports show it, for grouping stacks into sites.
std::string site_key(const Frame& f) {
  std::ostringstream key;
  key << f.function << '|' << f.filename << ':' << f.lineno << (f.inlined ? "|inlined" : "");
  if (!f.has_source()) key << '|' << f.module << '+' << f.module_offset;
  return key.str();
}

}  // namespace

Report growth_report(const Snapshot& before, const Snapshot& after, std::string what) {
  detail::UntracedScope untraced;
  const auto rule = detail::current_attribution_rule();
  Report report;
  report.what = std::move(what);
  // A site is a path through the user's code: stacks that differ only inside system code (two
  // code paths of std::map's insert, say) are one site, shown with its largest stack.
  std::map<std::vector<std::string>, std::size_t> site_of;
  for (const StatisticDiff& d : after.compare_to(before, KeyType::kTraceback)) {
    if (d.size_diff <= 0 && d.count_diff <= 0) continue;
    report.total_bytes += d.size_diff;
    report.total_blocks += d.count_diff;
    std::vector<std::string> user_frames;  // as the report shows them
    for (const Frame& f : d.traceback) {
      if (!rule->is_system(f)) user_frames.push_back(site_key(f));
    }
    const auto [it, fresh] = site_of.emplace(std::move(user_frames), report.sites.size());
    if (fresh) {
      report.sites.push_back(ReportSite{d.size_diff, d.count_diff, d.size, d.count, d.traceback});
      continue;
    }
    ReportSite& site = report.sites[it->second];
    if (d.size_diff > site.size_diff) site.traceback = d.traceback;
    site.size_diff += d.size_diff;
    site.count_diff += d.count_diff;
    site.size += d.size;
    site.count += d.count;
  }
  std::stable_sort(report.sites.begin(), report.sites.end(), [](const ReportSite& a, const ReportSite& b) {
    if (a.size_diff != b.size_diff) return a.size_diff > b.size_diff;
    return a.count_diff > b.count_diff;
  });
  return report;
}

}  // namespace leakguard
