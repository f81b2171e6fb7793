// Reading and writing reports as nlohmann::json values, for the files that embed them (run files,
// merged reports). Every error is a ReportError naming the source and the member's path.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "leakguard/report.hpp"
#include "leakguard/run_report.hpp"

namespace leakguard::detail {

[[noreturn]] void bad_json(const std::string& source, const std::string& what);
nlohmann::json parse_json(const std::string& text, const std::string& source);

inline bool is_int(const nlohmann::json& j) { return j.is_number_integer(); }
inline bool is_string(const nlohmann::json& j) { return j.is_string(); }
inline bool is_array(const nlohmann::json& j) { return j.is_array(); }
inline bool is_bool(const nlohmann::json& j) { return j.is_boolean(); }

// The member `key` of `object` (named `where` in errors), of the JSON type `type` checks.
template <class Check>
const nlohmann::json& member(const nlohmann::json& object, const char* key, Check type, const char* expected,
                             const std::string& where, const std::string& source) {
  const auto it = object.find(key);
  if (it == object.end()) bad_json(source, where + " has no \"" + key + "\"");
  if (!type(*it)) bad_json(source, where + "." + key + " is " + it->type_name() + ", expected " + expected);
  return *it;
}

// doc.dump(indent) with bad UTF-8 replaced, never thrown.
std::string dump_text(const nlohmann::json& doc, int indent);
// An integer member within [lo, hi], or a ReportError naming it and its value.
std::int64_t int_member(const nlohmann::json& object, const char* key, std::int64_t lo, std::int64_t hi,
                        const std::string& where, const std::string& source);

nlohmann::json report_json(const Report& report);
// `at` names the report's place in the document: "the report" for a whole file, otherwise a
// member path such as "failures[2].report".
Report report_from_json_value(const nlohmann::json& doc, const std::string& at, const std::string& source);
// A run file's or merged report's failure: {"test", "file", "line", "report"}.
nlohmann::json failure_json(const RunFailure& f);
RunFailure failure_from_json(const nlohmann::json& j, const std::string& where, const std::string& source);

}  // namespace leakguard::detail
