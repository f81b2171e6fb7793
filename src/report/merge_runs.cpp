// The run files of a whole test run, merged (run_report.hpp): the failing tests and the allocation
// sites they share.
#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <tuple>

#include "core/tracer.hpp"
#include "leakguard/run_report.hpp"
#include "report/where.hpp"

namespace leakguard {
namespace {

// Two builds of one source give the same line different module offsets, and one test binary's
// site is another's: the key is what a reader calls the place.
using SiteKey = std::tuple<std::string, std::uint64_t, std::string>;

SiteKey key_of(const Traceback& tb) {
  if (tb.empty()) return {"", 0, ""};
  const Frame& at = tb.attribution_frame();
  if (at.has_source()) return {at.filename, static_cast<std::uint64_t>(at.lineno), at.function};
  return {at.module, at.module_offset, at.function};
}

}  // namespace

MergedRuns merge_runs(const std::vector<RunReport>& runs) {
  detail::UntracedScope untraced;
  MergedRuns merged;
  std::map<SiteKey, std::size_t> site_index;
  for (const RunReport& run : runs) {
    ++merged.runs;
    if (!run.complete) ++merged.incomplete_runs;
    std::set<std::string> checked(run.tests_checked.begin(), run.tests_checked.end());
    const std::string program = detail::base_name(run.program);
    // Per test of this run, each site's largest growth among the test's failures.
    std::map<std::pair<std::string, SiteKey>, const ReportSite*> largest;
    std::vector<std::pair<std::string, SiteKey>> order;
    for (const RunFailure& failure : run.failures) {
      checked.insert(failure.test);
      const std::string test = program + ": " + failure.test;
      if (std::find(merged.failed_tests.begin(), merged.failed_tests.end(), test) == merged.failed_tests.end()) {
        merged.failed_tests.push_back(test);
      }
      for (const ReportSite& site : failure.report.sites) {
        if (site.size_diff <= 0) continue;
        const auto key = std::make_pair(test, key_of(site.traceback));
        auto [it, fresh] = largest.emplace(key, &site);
        if (fresh) {
          order.push_back(key);
        } else if (std::tie(site.size_diff, site.count_diff) > std::tie(it->second->size_diff, it->second->count_diff)) {
          it->second = &site;
        }
      }
      RunFailure copy = failure;
      copy.test = test;
      merged.failures.push_back(std::move(copy));
    }
    merged.tests_checked += checked.size();
    for (const auto& key : order) {
      const ReportSite& site = *largest[key];
      auto [it, fresh] = site_index.emplace(key.second, merged.sites.size());
      if (fresh) {
        MergedSite m;
        if (!site.traceback.empty()) m.at = site.traceback.attribution_frame();
        m.traceback = site.traceback;
        merged.sites.push_back(std::move(m));
      }
      MergedSite& m = merged.sites[it->second];
      m.size_diff += site.size_diff;
      m.count_diff += site.count_diff;
      if (std::find(m.tests.begin(), m.tests.end(), key.first) == m.tests.end()) m.tests.push_back(key.first);
    }
  }
  std::stable_sort(merged.sites.begin(), merged.sites.end(), [](const MergedSite& a, const MergedSite& b) {
    return std::tie(b.size_diff, b.count_diff) < std::tie(a.size_diff, a.count_diff);
  });
  return merged;
}

}  // namespace leakguard
