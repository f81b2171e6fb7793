// What a report costs: symbolizing and formatting one of 50 sites with 25-frame stacks, the first
// time in a process (the debug info is loaded, every address resolved) and again (the symbolizer's
// caches warm), the way a failing test's report is made: snapshots around the leaking code, the
// growth report, its text. Prints one JSON object.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <leakguard/leakguard.hpp>

namespace {

std::vector<void*> g_kept;

__attribute__((noinline)) void keep(void* p) {
  g_kept.push_back(p);
  asm volatile("" : : "r"(p) : "memory");
}

// 50 allocation sites, one per line.
#define SITE(n) \
  __attribute__((noinline)) void site##n() { keep(std::malloc(64 + n)); }
SITE(0)
SITE(1)
SITE(2)
SITE(3)
SITE(4)
SITE(5)
SITE(6)
SITE(7)
SITE(8)
SITE(9)
SITE(10)
SITE(11)
SITE(12)
SITE(13)
SITE(14)
SITE(15)
SITE(16)
SITE(17)
SITE(18)
SITE(19)
SITE(20)
SITE(21)
SITE(22)
SITE(23)
SITE(24)
SITE(25)
SITE(26)
SITE(27)
SITE(28)
SITE(29)
SITE(30)
SITE(31)
SITE(32)
SITE(33)
SITE(34)
SITE(35)
SITE(36)
SITE(37)
SITE(38)
SITE(39)
SITE(40)
SITE(41)
SITE(42)
SITE(43)
SITE(44)
SITE(45)
SITE(46)
SITE(47)
SITE(48)
SITE(49)
#undef SITE

void (*const kSites[50])() = {site0,  site1,  site2,  site3,  site4,  site5,  site6,  site7,  site8,  site9,
                              site10, site11, site12, site13, site14, site15, site16, site17, site18, site19,
                              site20, site21, site22, site23, site24, site25, site26, site27, site28, site29,
                              site30, site31, site32, site33, site34, site35, site36, site37, site38, site39,
                              site40, site41, site42, site43, site44, site45, site46, site47, site48, site49};

// 23 distinct frames above each site (with the site and main: 25 recorded).
template <int Level>
__attribute__((noinline)) void descend(int site) {
  if constexpr (Level == 0) {
    kSites[site]();
  } else {
    descend<Level - 1>(site);
  }
  asm volatile("" : : : "memory");  // not a tail call
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

struct Cost {
  double snapshot_ms, report_ms, text_ms;
  std::size_t sites, chars;
};

// One report: 50 sites, two blocks each, between two snapshots.
Cost one_report() {
  const leakguard::Snapshot before = leakguard::take_snapshot();
  for (int round = 0; round < 2; ++round) {
    for (int s = 0; s < 50; ++s) descend<22>(s);
  }
  auto t0 = std::chrono::steady_clock::now();
  const leakguard::Snapshot after = leakguard::take_snapshot();  // symbolizes the new stacks
  const double snapshot_ms = ms_since(t0);
  t0 = std::chrono::steady_clock::now();
  const leakguard::Report report = leakguard::growth_report(before, after, "leak");
  const double report_ms = ms_since(t0);
  leakguard::TextOptions options;
  options.max_sites = 50;
  options.max_frames = 25;
  t0 = std::chrono::steady_clock::now();
  const std::string text = leakguard::format_text(report, options);
  const double text_ms = ms_since(t0);
  for (void* p : g_kept) std::free(p);
  g_kept.clear();
  return {snapshot_ms, report_ms, text_ms, report.sites.size(), text.size()};
}

}  // namespace

int main() {
  leakguard::start(25);
  g_kept.reserve(1000);
  const Cost first = one_report();
  Cost again{1e300, 1e300, 1e300, 0, 0};
  for (int r = 0; r < 5; ++r) {
    const Cost c = one_report();
    if (c.snapshot_ms + c.report_ms + c.text_ms < again.snapshot_ms + again.report_ms + again.text_ms) again = c;
  }
  std::printf(
      "{\"sites\": %zu, \"frames\": 25, \"text_chars\": %zu, "
      "\"first_snapshot_ms\": %.2f, \"first_report_ms\": %.2f, \"first_text_ms\": %.2f, "
      "\"again_snapshot_ms\": %.3f, \"again_report_ms\": %.3f, \"again_text_ms\": %.3f}\n",
      first.sites, first.chars, first.snapshot_ms, first.report_ms, first.text_ms, again.snapshot_ms,
      again.report_ms, again.text_ms);
  leakguard::stop();
  return first.sites == 50 ? 0 : 1;
}
