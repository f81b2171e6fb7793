// The run file's format (run_report.hpp): JSON Lines, one object a line, so that the writer only
// ever appends and a crash costs at most the line being written.
#include "report/run_file_format.hpp"

#include <climits>

#include "core/tracer.hpp"
#include "report/json_report.hpp"

namespace leakguard {
namespace {
constexpr std::int64_t kRunSchemaVersion = 1;
}  // namespace

namespace detail {

std::string run_header_line(const std::string& program, std::int64_t pid) {
  return dump_text({{"leakguard_run", kRunSchemaVersion}, {"program", program}, {"pid", pid}}, -1) + "\n";
}

std::string run_checked_line(const std::vector<std::string>& tests) {
  return dump_text({{"checked", tests}}, -1) + "\n";
}

std::string run_failure_line(const RunFailure& failure) {
  return dump_text({{"failure", failure_json(failure)}}, -1) + "\n";
}

std::string run_complete_line() { return "{\"complete\":true}\n"; }

}  // namespace detail

std::string to_run_file(const RunReport& run) {
  detail::UntracedScope untraced;
  std::string text = detail::run_header_line(run.program, run.pid);
  if (!run.tests_checked.empty()) text += detail::run_checked_line(run.tests_checked);
  for (const RunFailure& f : run.failures) text += detail::run_failure_line(f);
  if (run.complete) text += detail::run_complete_line();
  return text;
}

namespace {

RunReport read_run_file(const std::string& text, const std::string& source) {
  using namespace detail;
  RunReport run;
  std::size_t begin = 0;
  int line = 0;
  bool complete_seen = false;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    const std::string one = text.substr(begin, end - begin);
    begin = end + 1;
    ++line;
    const std::string at = "line " + std::to_string(line);
    if (one.empty()) bad_json(source, at + " is empty");
    nlohmann::json doc;
    try {
      doc = nlohmann::json::parse(one);
    } catch (const nlohmann::json::parse_error& e) {
      // The writer appends whole lines ending in '\n': a last line without one was cut short by
      // the end of its process, and everything before it stands.
      if (end == text.size() && line > 1) {
        run.cut_short_line = line;
        break;
      }
      // nlohmann's own text counts lines within this one line; the column is what helps.
      const std::string what = e.what();
      const std::size_t colon = what.find(": ", what.find("column"));
      bad_json(source, at + ", column " + std::to_string(e.byte) + ": not JSON: " +
                           (colon == std::string::npos ? what : what.substr(colon + 2)));
    }
    if (!doc.is_object() || doc.size() == 0) bad_json(source, at + " is not a JSON object with members");
    if (line == 1) {
      if (!doc.contains("leakguard_run")) bad_json(source, "not a leakguard run file (line 1 has no \"leakguard_run\" key)");
      const std::int64_t version = int_member(doc, "leakguard_run", 0, INT_MAX, at, source);
      if (version != kRunSchemaVersion) {
        bad_json(source, "run file schema version " + std::to_string(version) + "; this leakguard reads version " +
                             std::to_string(kRunSchemaVersion));
      }
      run.program = member(doc, "program", is_string, "a string", at, source).get<std::string>();
      run.pid = int_member(doc, "pid", 0, INT64_MAX, at, source);
      continue;
    }
    if (complete_seen) bad_json(source, at + " follows the line that says the run is complete");
    if (doc.size() != 1) bad_json(source, at + " has " + std::to_string(doc.size()) + " members; a line holds one");
    if (doc.contains("checked")) {
      const nlohmann::json& names = member(doc, "checked", is_array, "an array", at, source);
      for (std::size_t i = 0; i < names.size(); ++i) {
        if (!names[i].is_string()) {
          bad_json(source, at + ": checked[" + std::to_string(i) + "] is " + names[i].type_name() + ", expected a string");
        }
        run.tests_checked.push_back(names[i].get<std::string>());
      }
    } else if (doc.contains("failure")) {
      run.failures.push_back(failure_from_json(doc["failure"], at + ": failure", source));
    } else if (doc.contains("complete")) {
      if (!member(doc, "complete", is_bool, "true", at, source).get<bool>()) {
        bad_json(source, at + ": complete is false; a run that has not ended has no such line");
      }
      run.complete = complete_seen = true;
    } else {
      bad_json(source, at + " has none of \"checked\", \"failure\" or \"complete\"");
    }
  }
  if (line == 0) bad_json(source, "empty file: not a leakguard run file");
  return run;
}

}  // namespace

RunReport run_report_from_file(const std::string& text, const std::string& source) {
  detail::UntracedScope untraced;
  try {
    return read_run_file(text, source);
  } catch (const ReportError& e) {
    // The readers shared with report files say "report"; this one is a run file.
    std::string what = e.what();
    const std::string report = "leakguard: report '";
    if (what.compare(0, report.size(), report) == 0) what.replace(0, report.size(), "leakguard: run file '");
    throw ReportError(what);
  }
}

}  // namespace leakguard
