// The JSON forms of a report (schema in report.hpp) and of merged runs (run_report.hpp), written
// and read with nlohmann::json. Text that is not UTF-8 (a path, a symbol) is written with U+FFFD
// in place of its bad bytes: a dump that threw would take the report with it.
#include "report/json_report.hpp"

#include <climits>

#include "core/tracer.hpp"
#include "leakguard/run_report.hpp"

namespace leakguard {
namespace {
constexpr std::int64_t kSchemaVersion = 1;
constexpr int kMergedSchemaVersion = 1;
}  // namespace

namespace detail {

void bad_json(const std::string& source, const std::string& what) {
  throw ReportError("leakguard: report '" + source + "': " + what);
}

nlohmann::json parse_json(const std::string& text, const std::string& source) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    bad_json(source, std::string("not JSON: ") + e.what());
  }
}

std::string dump_text(const nlohmann::json& doc, int indent) {
  return doc.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::int64_t int_member(const nlohmann::json& object, const char* key, std::int64_t lo, std::int64_t hi,
                        const std::string& where, const std::string& source) {
  const nlohmann::json& j = member(object, key, is_int, "an integer", where, source);
  const bool fits = j.is_number_unsigned() ? j.get<std::uint64_t>() <= static_cast<std::uint64_t>(hi)
                                           : j.get<std::int64_t>() >= lo && j.get<std::int64_t>() <= hi;
  if (!fits) {
    bad_json(source, where + "." + key + " is " + j.dump() + ", expected " + std::to_string(lo) + " to " +
                         std::to_string(hi));
  }
  return j.get<std::int64_t>();
}

nlohmann::json failure_json(const RunFailure& f) {
  return {{"test", f.test}, {"file", f.file}, {"line", f.line}, {"report", report_json(f.report)}};
}

RunFailure failure_from_json(const nlohmann::json& j, const std::string& where, const std::string& source) {
  if (!j.is_object()) bad_json(source, where + " is " + j.type_name() + ", expected an object");
  RunFailure f;
  f.test = member(j, "test", is_string, "a string", where, source).get<std::string>();
  f.file = member(j, "file", is_string, "a string", where, source).get<std::string>();
  f.line = static_cast<int>(int_member(j, "line", 0, INT_MAX, where, source));
  const nlohmann::json& report =
      member(j, "report", [](const nlohmann::json& r) { return r.is_object(); }, "an object", where, source);
  f.report = report_from_json_value(report, where + ".report", source);
  return f;
}

nlohmann::json report_json(const Report& report) {
  nlohmann::json sites = nlohmann::json::array();
  for (const ReportSite& site : report.sites) {
    nlohmann::json frames = nlohmann::json::array();
    for (const Frame& f : site.traceback) {
      frames.push_back({{"function", f.function}, {"file", f.filename}, {"line", f.lineno},
                        {"module", f.module}, {"offset", f.module_offset}, {"inlined", f.inlined}});
    }
    sites.push_back({{"size_diff", site.size_diff}, {"count_diff", site.count_diff}, {"size", site.size},
                     {"count", site.count}, {"frames", std::move(frames)}});
  }
  nlohmann::json doc = {{"leakguard_report", kSchemaVersion},
                        {"what", report.what},
                        {"total_bytes", report.total_bytes},
                        {"total_blocks", report.total_blocks},
                        {"budget", report.budget ? nlohmann::json(*report.budget) : nlohmann::json(nullptr)},
                        {"sites", std::move(sites)}};
  return doc;
}

Report report_from_json_value(const nlohmann::json& doc, const std::string& at, const std::string& source) {
  const std::string prefix = at == "the report" ? "" : at + ".";
  if (!doc.is_object() || !doc.contains("leakguard_report")) {
    bad_json(source, (at == "the report" ? std::string("not a leakguard report") : at + " is not a leakguard report") +
                         " (no \"leakguard_report\" key)");
  }
  const std::int64_t version = int_member(doc, "leakguard_report", 0, INT_MAX, at, source);
  if (version != kSchemaVersion) {
    bad_json(source, "schema version " + std::to_string(version) + "; this leakguard reads version " +
                    std::to_string(kSchemaVersion));
  }
  Report report;
  report.what = member(doc, "what", is_string, "a string", at, source).get<std::string>();
  report.total_bytes = int_member(doc, "total_bytes", INT64_MIN, INT64_MAX, at, source);
  report.total_blocks = int_member(doc, "total_blocks", INT64_MIN, INT64_MAX, at, source);
  const nlohmann::json& budget = member(
      doc, "budget", [](const nlohmann::json& j) { return j.is_null() || j.is_number_integer(); },
      "an integer or null", at, source);
  if (!budget.is_null()) report.budget = int_member(doc, "budget", 0, INT64_MAX, at, source);
  const nlohmann::json& sites = member(doc, "sites", is_array, "an array", at, source);
  for (std::size_t i = 0; i < sites.size(); ++i) {
    const std::string where = prefix + "sites[" + std::to_string(i) + "]";
    if (!sites[i].is_object()) bad_json(source, where + " is " + sites[i].type_name() + ", expected an object");
    ReportSite site;
    site.size_diff = int_member(sites[i], "size_diff", INT64_MIN, INT64_MAX, where, source);
    site.count_diff = int_member(sites[i], "count_diff", INT64_MIN, INT64_MAX, where, source);
    site.size = static_cast<std::size_t>(int_member(sites[i], "size", 0, INT64_MAX, where, source));
    site.count = static_cast<std::size_t>(int_member(sites[i], "count", 0, INT64_MAX, where, source));
    const nlohmann::json& frames = member(sites[i], "frames", is_array, "an array", where, source);
    std::vector<Frame> parsed;
    for (std::size_t k = 0; k < frames.size(); ++k) {
      const std::string fwhere = where + ".frames[" + std::to_string(k) + "]";
      if (!frames[k].is_object()) bad_json(source, fwhere + " is " + frames[k].type_name() + ", expected an object");
      Frame f;
      f.function = member(frames[k], "function", is_string, "a string", fwhere, source).get<std::string>();
      f.filename = member(frames[k], "file", is_string, "a string", fwhere, source).get<std::string>();
      f.lineno = static_cast<int>(int_member(frames[k], "line", 0, INT_MAX, fwhere, source));
      f.module = member(frames[k], "module", is_string, "a string", fwhere, source).get<std::string>();
      f.module_offset = static_cast<std::uintptr_t>(int_member(frames[k], "offset", 0, INT64_MAX, fwhere, source));
      f.inlined = member(frames[k], "inlined", is_bool, "true or false", fwhere, source).get<bool>();
      parsed.push_back(std::move(f));
    }
    const std::size_t n = parsed.size();
    site.traceback = Traceback(std::move(parsed), n);
    report.sites.push_back(std::move(site));
  }
  return report;
}

}  // namespace detail

std::string to_json(const Report& report) {
  detail::UntracedScope untraced;
  return detail::dump_text(detail::report_json(report), 2) + "\n";
}

Report report_from_json(const std::string& json, const std::string& source) {
  detail::UntracedScope untraced;
  return detail::report_from_json_value(detail::parse_json(json, source), "the report", source);
}

std::string to_json(const MergedRuns& merged) {
  detail::UntracedScope untraced;
  nlohmann::json sites = nlohmann::json::array();
  for (const MergedSite& s : merged.sites) {
    sites.push_back({{"function", s.at.function}, {"file", s.at.filename}, {"line", s.at.lineno},
                     {"module", s.at.module},     {"size_diff", s.size_diff}, {"count_diff", s.count_diff},
                     {"tests", s.tests}});
  }
  nlohmann::json failures = nlohmann::json::array();
  for (const RunFailure& f : merged.failures) failures.push_back(detail::failure_json(f));
  const nlohmann::json doc = {{"leakguard_merged", kMergedSchemaVersion},
                              {"runs", merged.runs},
                              {"incomplete_runs", merged.incomplete_runs},
                              {"tests_checked", merged.tests_checked},
                              {"failed_tests", merged.failed_tests},
                              {"sites", std::move(sites)},
                              {"failures", std::move(failures)}};
  return detail::dump_text(doc, 2) + "\n";
}

}  // namespace leakguard
