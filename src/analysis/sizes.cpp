#include "leakguard/sizes.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace leakguard {
namespace {

constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};

[[noreturn]] void bad(std::string_view text, const std::string& why) {
  throw BadSize("leakguard: '" + std::string(text) + "' is not a size: " + why +
                " (examples: 512, \"4 KiB\", \"24 MB\", \"1.5GiB\")");
}

}  // namespace

std::string format_bytes(std::int64_t bytes, bool show_sign) {
  const char* sign = bytes < 0 ? "-" : (show_sign ? "+" : "");
  const std::uint64_t magnitude =
      bytes < 0 ? static_cast<std::uint64_t>(-(bytes + 1)) + 1 : static_cast<std::uint64_t>(bytes);
  char buf[48];
  if (magnitude < 1024) {
    std::snprintf(buf, sizeof buf, "%s%llu B", sign, static_cast<unsigned long long>(magnitude));
    return buf;
  }
  double value = static_cast<double>(magnitude);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  // 1023.96 KiB would print as "1024.0 KiB": promote it to "1.0 MiB".
  if (value >= 1023.95 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  std::snprintf(buf, sizeof buf, "%s%.1f %s", sign, value, kUnits[unit]);
  return buf;
}

std::size_t parse_bytes(std::string_view text) {
  std::size_t i = 0;
  auto skip_blanks = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  skip_blanks();
  if (i < text.size() && text[i] == '+') ++i;
  const std::size_t number_start = i;
  bool digits = false, dot = false;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || (text[i] == '.' && !dot))) {
    digits = digits || text[i] != '.';
    dot = dot || text[i] == '.';
    ++i;
  }
  if (!digits) {
    bad(text, number_start < text.size() && text[number_start] == '-' ? "a size cannot be negative"
                                                                      : "it does not start with a number");
  }
  const double number = std::strtod(std::string(text.substr(number_start, i - number_start)).c_str(), nullptr);
  skip_blanks();
  std::string unit;
  while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) {
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
    ++i;
  }
  skip_blanks();
  if (i != text.size()) bad(text, "unexpected '" + std::string(text.substr(i)) + "' after the unit");
  int power = -1;
  if (unit.empty() || unit == "b") power = 0;
  static const char* const kPrefixes = "kmgt";
  for (int p = 0; p < 4 && power < 0; ++p) {
    const std::string k(1, kPrefixes[p]);
    if (unit == k || unit == k + "b" || unit == k + "ib") power = p + 1;
  }
  if (power < 0) bad(text, "unknown unit '" + unit + "' (use B, KiB, MiB, GiB or TiB; KB and MB mean the same)");
  const double bytes = std::floor(number * std::pow(1024.0, power));
  if (!(bytes < 18446744073709551616.0)) bad(text, "it is larger than 16 EiB");
  return static_cast<std::size_t>(bytes);
}

}  // namespace leakguard
