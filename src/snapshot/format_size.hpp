// Sizes printed exactly as tracemalloc prints them ("4096 B", "12.3 KiB", "+1.5 MiB").
#pragma once
#include <string>

namespace leakguard::detail {
std::string format_size(double size, bool sign);
}
