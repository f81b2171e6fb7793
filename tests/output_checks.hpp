// What the plugin self-tests look for in a test program's output.
#pragma once
#include <cstddef>
#include <string>

namespace lgtest {

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

inline std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// The rest of the line after `label`, the last time the program printed it (the samples print the
// lines they want checked; a report may quote the printing source line itself before that).
inline std::string printed_line(const std::string& output, const std::string& label) {
  const auto at = output.rfind(label);
  if (at == std::string::npos) return "?";
  return output.substr(at + label.size(), output.find('\n', at) - at - label.size());
}

}  // namespace lgtest
