#include "format_size.hpp"

#include <cmath>
#include <cstdio>

namespace leakguard::detail {

// tracemalloc's _format_size: up to 4-5 digits in B, then 3 significant digits in larger units.
std::string format_size(double size, bool sign) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  char buf[64];
  for (int u = 0; u < 5; ++u) {
    if (std::fabs(size) < 100 && u != 0) {
      std::snprintf(buf, sizeof buf, sign ? "%+.1f %s" : "%.1f %s", size, kUnits[u]);
      return buf;
    }
    if (std::fabs(size) < 10 * 1024 || u == 4) {
      std::snprintf(buf, sizeof buf, sign ? "%+.0f %s" : "%.0f %s", size, kUnits[u]);
      return buf;
    }
    size /= 1024;
  }
  return buf;  // unreachable
}

}  // namespace leakguard::detail
