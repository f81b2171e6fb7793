// Suppressions in LeakSanitizer's syntax: a file of lines `leak:<pattern>`; `#` starts a comment
// and blank lines are ignored. A leak is suppressed when the pattern matches the function, the
// source file or the module of any frame of its stack. Patterns match anywhere in the name;
// `*` matches any run of characters, a leading `^` anchors at the start and a trailing `$` at the
// end, as LSan reads them.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

#include "leakguard/export.hpp"
#include "leakguard/traceback.hpp"

namespace leakguard {

// A bad suppressions file; what() names the file, the line and what is wrong with it.
class LEAKGUARD_API SuppressionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class LEAKGUARD_API Suppressions {
 public:
  Suppressions() = default;
  // Reads `path`; throws SuppressionError for a file that cannot be read or a line that is not
  // `leak:<pattern>`.
  static Suppressions load(const std::string& path);
  // The same from text; `source` names it in errors.
  static Suppressions parse(const std::string& text, const std::string& source);

  // The first pattern that matches a frame of `traceback`, or nullptr.
  const std::string* match(const Traceback& traceback) const;
  bool empty() const { return patterns_.empty(); }

 private:
  std::vector<std::string> patterns_;
};

// LSan's pattern rule for one name: true when `pattern` matches `name` (see above).
LEAKGUARD_API bool suppression_matches(const std::string& pattern, const std::string& name);

}  // namespace leakguard
