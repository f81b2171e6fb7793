#include "leakguard/suppressions.hpp"

#include <fnmatch.h>

#include <fstream>
#include <sstream>

namespace leakguard {

bool suppression_matches(const std::string& pattern, const std::string& name) {
  if (pattern.empty() || name.empty()) return false;
  std::string glob = pattern;
  const bool anchored_start = glob.front() == '^';
  if (anchored_start) glob.erase(0, 1);
  const bool anchored_end = !glob.empty() && glob.back() == '$';
  if (anchored_end) glob.pop_back();
  if (!anchored_start) glob = "*" + glob;
  if (!anchored_end) glob += "*";
  return fnmatch(glob.c_str(), name.c_str(), 0) == 0;
}

Suppressions Suppressions::parse(const std::string& text, const std::string& source) {
  Suppressions s;
  std::istringstream in(text);
  int lineno = 0;
  for (std::string line; std::getline(in, line);) {
    ++lineno;
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    const auto last = line.find_last_not_of(" \t\r");
    const std::string entry = line.substr(first, last - first + 1);
    const auto colon = entry.find(':');
    const std::string where = "leakguard: suppressions '" + source + "', line " + std::to_string(lineno) + ": ";
    if (colon == std::string::npos) {
      throw SuppressionError(where + "'" + entry + "' is not of the form leak:<pattern>");
    }
    const std::string kind = entry.substr(0, colon), pattern = entry.substr(colon + 1);
    if (kind != "leak") {
      throw SuppressionError(where + "unknown kind '" + kind + "' (only leak: suppressions apply here)");
    }
    if (pattern.empty()) throw SuppressionError(where + "leak: has no pattern");
    s.patterns_.push_back(pattern);
  }
  return s;
}

Suppressions Suppressions::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw SuppressionError("leakguard: suppressions '" + path + "': cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

const std::string* Suppressions::match(const Traceback& traceback) const {
  for (const std::string& pattern : patterns_) {
    for (const Frame& f : traceback) {
      if (suppression_matches(pattern, f.function) || suppression_matches(pattern, f.filename) ||
          suppression_matches(pattern, f.module)) {
        return &pattern;
      }
    }
  }
  return nullptr;
}

}  // namespace leakguard
