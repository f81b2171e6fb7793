// The text and collapsed-stack forms of a report, and a budget's message.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "core/tracer.hpp"
#include "leakguard/budget.hpp"
#include "leakguard/report.hpp"
#include "leakguard/run_report.hpp"
#include "leakguard/sizes.hpp"
#include "report/where.hpp"
#include "snapshot/attribution_rule.hpp"

namespace leakguard {
namespace {

std::string blocks(std::int64_t n) {
  return (n >= 0 ? "+" : "") + std::to_string(n) + (n == 1 || n == -1 ? " block" : " blocks");
}

// The compiler's specialised copies ("f(int) [clone .constprop.0] [clone .isra.0]") are the same
// function to a reader.
std::string without_clone_suffixes(std::string name) {
  for (std::size_t at; (at = name.find(" [clone ")) != std::string::npos;) {
    const std::size_t end = name.find(']', at);
    if (end == std::string::npos) break;
    name.erase(at, end + 1 - at);
  }
  return name;
}

// "function file:line", or "function (module+0x1a2b)" without debug info.
std::string describe(const Frame& f) {
  std::string text = f.function.empty() ? "??" : without_clone_suffixes(f.function);
  if (f.has_source()) return text + " " + f.filename + ":" + std::to_string(f.lineno);
  std::ostringstream where;
  where << " (" << (f.module.empty() ? "??" : detail::base_name(f.module)) << "+0x" << std::hex << f.module_offset << ")";
  return text + where.str();
}

struct Paint {
  bool on;
  std::string operator()(const char* code, const std::string& text) const {
    return on ? std::string("\033[") + code + "m" + text + "\033[0m" : text;
  }
};

}  // namespace

bool colour_for_stderr() { return isatty(STDERR_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr; }

namespace {
// A traceback as the report shows it: most recent call first, inlined frames marked, runs of
// system frames folded into one line, at most max_lines lines.
void write_traceback(std::ostringstream& out, const Traceback& tb, const AttributionRule& rule,
                     std::size_t max_lines, const char* indent) {
  std::size_t lines = 0;
  const auto& frames = tb.frames();
  for (std::size_t f = 0; f < frames.size();) {
    if (lines == max_lines) {
      out << indent << "... " << frames.size() - f << " more frames\n";
      break;
    }
    if (rule.is_system(frames[f])) {
      std::size_t end = f;
      std::vector<std::string> where;
      for (; end < frames.size() && rule.is_system(frames[end]); ++end) {
        const std::string name = detail::base_name(frames[end].has_source() ? frames[end].filename : frames[end].module);
        if (!name.empty() && std::find(where.begin(), where.end(), name) == where.end()) where.push_back(name);
      }
      out << indent << "... " << end - f << (end - f == 1 ? " frame" : " frames") << " in system code";
      for (std::size_t w = 0; w < where.size(); ++w) out << (w == 0 ? ": " : ", ") << where[w];
      out << "\n";
      f = end;
    } else {
      out << indent << "at " << describe(frames[f]) << (frames[f].inlined ? " [inlined]" : "") << "\n";
      ++f;
    }
    ++lines;
  }
}
// "  +4.0 KiB +2 blocks  src/cache.cpp:42  buffer = new char[2048];"
void write_site_line(std::ostringstream& out, const Paint& paint, std::int64_t bytes, std::int64_t count,
                     const Traceback& tb) {
  out << "  " << paint("33", format_bytes(bytes, true) + " " + blocks(count));
  if (!tb.empty()) {
    const Frame& at = tb.attribution_frame();
    out << "  " << at.str();
    const std::string text = source_line(at.filename, at.lineno);
    if (!text.empty()) out << "  " << paint("1", text);
  }
  out << "\n";
}

std::string plural(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::string format_text(const Report& report, const TextOptions& options) {
  detail::UntracedScope untraced;
  const Paint paint{options.colour};
  const auto rule = detail::current_attribution_rule();
  std::ostringstream out;
  out << paint("1;31", "leakguard: " + report.what) << ": " << format_bytes(report.total_bytes, true) << " in "
      << blocks(report.total_blocks);
  if (report.budget) out << " (budget " << format_bytes(*report.budget) << ")";
  out << "\n";

  const std::size_t shown = std::min(report.sites.size(), options.max_sites);
  for (std::size_t i = 0; i < shown; ++i) {
    const ReportSite& site = report.sites[i];
    write_site_line(out, paint, site.size_diff, site.count_diff, site.traceback);
    write_traceback(out, site.traceback, *rule, options.max_frames, "      ");
  }
  if (report.sites.size() > shown) {
    std::int64_t bytes = 0, count = 0;
    for (std::size_t i = shown; i < report.sites.size(); ++i) {
      bytes += report.sites[i].size_diff;
      count += report.sites[i].count_diff;
    }
    out << "  ... " << report.sites.size() - shown << " more sites: " << format_bytes(bytes, true) << " in "
        << blocks(count) << "\n";
  }
  return out.str();
}

std::string BudgetResult::message() const {
  if (!exceeded) return {};
  std::string text = format_text(report);
  if (crossing && !crossing->empty()) {
    detail::UntracedScope untraced;
    std::ostringstream out;
    out << "  crossed by this allocation:\n";
    write_traceback(out, *crossing, *detail::current_attribution_rule(), TextOptions{}.max_frames, "      ");
    text += out.str();
  }
  return text;
}

std::string format_text(const MergedRuns& merged, const TextOptions& options) {
  detail::UntracedScope untraced;
  const Paint paint{options.colour};
  std::ostringstream out;
  const std::size_t failed = merged.failed_tests.size();
  const std::string headline = "leakguard: " + (failed == 0 ? std::string("no test failed") : plural(failed, "test", "tests") + " failed") +
                               " of " + std::to_string(merged.tests_checked) + " checked, in " +
                               plural(merged.runs, "test run", "test runs");
  out << paint(failed == 0 ? "1;32" : "1;31", headline);
  if (merged.incomplete_runs > 0) {
    out << " (" << (merged.incomplete_runs == 1 ? std::string("1 run did not reach its end")
                                                : std::to_string(merged.incomplete_runs) + " runs did not reach their end")
        << ": crashed, killed or still running; what was written is counted)";
  }
  out << "\n";
  if (!merged.sites.empty()) {
    out << "\nSites (growth summed over the failing tests, largest first):\n";
    const std::size_t shown = std::min(merged.sites.size(), options.max_sites);
    for (std::size_t i = 0; i < shown; ++i) {
      const MergedSite& site = merged.sites[i];
      write_site_line(out, paint, site.size_diff, site.count_diff, site.traceback);
      out << "      in ";
      for (std::size_t t = 0; t < site.tests.size(); ++t) out << (t == 0 ? "" : ", ") << site.tests[t];
      out << "\n";
    }
    if (merged.sites.size() > shown) out << "  ... " << merged.sites.size() - shown << " more sites\n";
  }
  if (!merged.failures.empty()) {
    out << "\nFailures:\n";
    for (std::size_t i = 0; i < merged.failures.size(); ++i) {
      const RunFailure& f = merged.failures[i];
      if (i > 0) out << "\n";
      out << paint("1", f.test);
      if (!f.file.empty()) out << " (" << f.file << ":" << f.line << ")";
      out << "\n" << format_text(f.report, options);
    }
  }
  return out.str();
}

std::string to_collapsed(const Report& report) {
  detail::UntracedScope untraced;
  std::ostringstream out;
  for (const ReportSite& site : report.sites) {
    if (site.size_diff <= 0) continue;
    const auto& frames = site.traceback.frames();
    for (std::size_t i = frames.size(); i > 0; --i) {
      const Frame& f = frames[i - 1];
      std::string name = f.function.empty() ? f.str() : f.function;
      std::replace(name.begin(), name.end(), ';', ':');  // ';' separates frames
      out << name << (i > 1 ? ";" : "");
    }
    if (frames.empty()) out << "[unknown]";
    out << " " << site.size_diff << "\n";
  }
  return out.str();
}

}  // namespace leakguard
