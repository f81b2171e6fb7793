// Reports of what grew: between two snapshots (growth_report) or in a window's lost blocks
// (leak_report). Both gather stacks into sites the same way.
#include <algorithm>
#include <map>
#include <sstream>

#include "core/tracer.hpp"
#include "leakguard/classify.hpp"
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

// Gathers per-stack entries into sites. A site is a path through the user's code: stacks that
// differ only inside system code (two code paths of std::map's insert, say) are one site, shown
// with its largest stack. Largest growth first.
class SiteMerger {
 public:
  explicit SiteMerger(Report* report) : report_(report), rule_(detail::current_attribution_rule()) {}

  void add(const ReportSite& entry) {
    report_->total_bytes += entry.size_diff;
    report_->total_blocks += entry.count_diff;
    std::vector<std::string> user_frames;  // as the report shows them
    for (const Frame& f : entry.traceback) {
      if (!rule_->is_system(f)) user_frames.push_back(site_key(f));
    }
    const auto [it, fresh] = site_of_.emplace(std::move(user_frames), report_->sites.size());
    if (fresh) {
      report_->sites.push_back(entry);
      return;
    }
    ReportSite& site = report_->sites[it->second];
    if (entry.size_diff > site.size_diff) site.traceback = entry.traceback;
    site.size_diff += entry.size_diff;
    site.count_diff += entry.count_diff;
    site.size += entry.size;
    site.count += entry.count;
  }

  void finish() {
    std::stable_sort(report_->sites.begin(), report_->sites.end(), [](const ReportSite& a, const ReportSite& b) {
      if (a.size_diff != b.size_diff) return a.size_diff > b.size_diff;
      return a.count_diff > b.count_diff;
    });
  }

 private:
  Report* report_;
  std::shared_ptr<const AttributionRule> rule_;
  std::map<std::vector<std::string>, std::size_t> site_of_;
};

}  // namespace

Report growth_report(const Snapshot& before, const Snapshot& after, std::string what) {
  detail::UntracedScope untraced;
  Report report;
  report.what = std::move(what);
  SiteMerger sites(&report);
  for (const StatisticDiff& d : after.compare_to(before, KeyType::kTraceback)) {
    if (d.size_diff <= 0 && d.count_diff <= 0) continue;
    sites.add(ReportSite{d.size_diff, d.count_diff, d.size, d.count, d.traceback});
  }
  sites.finish();
  return report;
}

Report leak_report(const Classification& classification, std::string what) {
  detail::UntracedScope untraced;
  Report report;
  report.what = std::move(what);
  SiteMerger sites(&report);
  for (const Survivor& s : classification.survivors) {
    if (s.kind == SurvivorKind::kHeld) continue;
    const auto size = static_cast<std::int64_t>(s.size);
    sites.add(ReportSite{size, 1, s.size, 1, s.traceback});
  }
  sites.finish();
  return report;
}

}  // namespace leakguard
