// Byte counts for people, both ways: the sizes reports print and the budgets users write.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "leakguard/export.hpp"

namespace leakguard {

// "512 B", "4.0 KiB", "1.5 MiB", "2.0 GiB": bytes below 1 KiB exactly, larger sizes with one
// decimal in the largest binary unit that keeps the number at least 1. With show_sign, growth
// and shrinkage read "+4.0 KiB" and "-512 B" (zero is "+0 B").
LEAKGUARD_API std::string format_bytes(std::int64_t bytes, bool show_sign = false);

// A size a user wrote: "512", "512 B", "1 KiB", "24 MB", "1.5GiB", "64k". Units are binary
// (K, KB and KiB all mean 1024, M/MB/MiB 1024^2, up to T), as pytest-memray reads them, and
// case-insensitive; blanks around the number and unit are allowed. Fractions are rounded down to
// whole bytes. Throws BadSize naming the text and what is wrong with it.
LEAKGUARD_API std::size_t parse_bytes(std::string_view text);

class LEAKGUARD_API BadSize : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace leakguard
