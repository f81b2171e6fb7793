// The JSON form of a report (schema in report.hpp), written and read with nlohmann::json.
#include <nlohmann/json.hpp>

#include "core/tracer.hpp"
#include "leakguard/report.hpp"

namespace leakguard {
namespace {

constexpr int kSchemaVersion = 1;

[[noreturn]] void bad(const std::string& source, const std::string& what) {
  throw ReportError("leakguard: report '" + source + "': " + what);
}

// The member `key` of `object`, of the JSON type `type` checks, or a ReportError naming it.
template <class Check>
const nlohmann::json& member(const nlohmann::json& object, const char* key, Check type, const char* expected,
                             const std::string& where, const std::string& source) {
  const auto it = object.find(key);
  if (it == object.end()) bad(source, where + " has no \"" + key + "\"");
  if (!type(*it)) bad(source, where + "." + key + " is " + it->type_name() + ", expected " + expected);
  return *it;
}

}  // namespace

std::string to_json(const Report& report) {
  detail::UntracedScope untraced;
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
  return doc.dump(2) + "\n";
}

Report report_from_json(const std::string& json, const std::string& source) {
  detail::UntracedScope untraced;
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json);
  } catch (const nlohmann::json::parse_error& e) {
    bad(source, std::string("not JSON: ") + e.what());
  }
  const auto is_int = [](const nlohmann::json& j) { return j.is_number_integer(); };
  const auto is_string = [](const nlohmann::json& j) { return j.is_string(); };
  const auto is_array = [](const nlohmann::json& j) { return j.is_array(); };
  const auto is_bool = [](const nlohmann::json& j) { return j.is_boolean(); };
  if (!doc.is_object() || !doc.contains("leakguard_report")) bad(source, "not a leakguard report (no \"leakguard_report\" key)");
  const int version = member(doc, "leakguard_report", is_int, "an integer", "the report", source).get<int>();
  if (version != kSchemaVersion) {
    bad(source, "schema version " + std::to_string(version) + "; this leakguard reads version " +
                    std::to_string(kSchemaVersion));
  }
  Report report;
  report.what = member(doc, "what", is_string, "a string", "the report", source).get<std::string>();
  report.total_bytes = member(doc, "total_bytes", is_int, "an integer", "the report", source).get<std::int64_t>();
  report.total_blocks = member(doc, "total_blocks", is_int, "an integer", "the report", source).get<std::int64_t>();
  const nlohmann::json& budget = member(
      doc, "budget", [](const nlohmann::json& j) { return j.is_null() || j.is_number_integer(); },
      "an integer or null", "the report", source);
  if (!budget.is_null()) report.budget = budget.get<std::int64_t>();
  const nlohmann::json& sites = member(doc, "sites", is_array, "an array", "the report", source);
  for (std::size_t i = 0; i < sites.size(); ++i) {
    const std::string where = "sites[" + std::to_string(i) + "]";
    if (!sites[i].is_object()) bad(source, where + " is " + sites[i].type_name() + ", expected an object");
    ReportSite site;
    site.size_diff = member(sites[i], "size_diff", is_int, "an integer", where, source).get<std::int64_t>();
    site.count_diff = member(sites[i], "count_diff", is_int, "an integer", where, source).get<std::int64_t>();
    const auto& size = member(sites[i], "size", is_int, "an integer", where, source);
    const auto& count = member(sites[i], "count", is_int, "an integer", where, source);
    if (size.get<std::int64_t>() < 0 || count.get<std::int64_t>() < 0) bad(source, where + " has a negative size or count");
    site.size = size.get<std::size_t>();
    site.count = count.get<std::size_t>();
    const nlohmann::json& frames = member(sites[i], "frames", is_array, "an array", where, source);
    std::vector<Frame> parsed;
    for (std::size_t k = 0; k < frames.size(); ++k) {
      const std::string fwhere = where + ".frames[" + std::to_string(k) + "]";
      if (!frames[k].is_object()) bad(source, fwhere + " is " + frames[k].type_name() + ", expected an object");
      Frame f;
      f.function = member(frames[k], "function", is_string, "a string", fwhere, source).get<std::string>();
      f.filename = member(frames[k], "file", is_string, "a string", fwhere, source).get<std::string>();
      f.lineno = member(frames[k], "line", is_int, "an integer", fwhere, source).get<int>();
      f.module = member(frames[k], "module", is_string, "a string", fwhere, source).get<std::string>();
      f.module_offset = member(frames[k], "offset", is_int, "an integer", fwhere, source).get<std::uintptr_t>();
      f.inlined = member(frames[k], "inlined", is_bool, "true or false", fwhere, source).get<bool>();
      parsed.push_back(std::move(f));
    }
    const std::size_t n = parsed.size();
    site.traceback = Traceback(std::move(parsed), n);
    report.sites.push_back(std::move(site));
  }
  return report;
}

}  // namespace leakguard
