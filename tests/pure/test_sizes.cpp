// Human sizes both ways: what reports print and the budgets users write.
#include <gtest/gtest.h>

#include <cstdint>

#include "leakguard/sizes.hpp"

namespace leakguard {
namespace {

TEST(FormatBytes, BytesExactlyThenOneDecimalInTheLargestUnit) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1024), "1.0 KiB");
  EXPECT_EQ(format_bytes(4096), "4.0 KiB");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(1048575), "1.0 MiB");  // not "1024.0 KiB"
  EXPECT_EQ(format_bytes(24 * 1048576), "24.0 MiB");
  EXPECT_EQ(format_bytes(std::int64_t{3} << 40), "3.0 TiB");
  EXPECT_EQ(format_bytes(std::int64_t{5000} << 40), "5000.0 TiB");
}

TEST(FormatBytes, Signs) {
  EXPECT_EQ(format_bytes(4096, true), "+4.0 KiB");
  EXPECT_EQ(format_bytes(0, true), "+0 B");
  EXPECT_EQ(format_bytes(-512, true), "-512 B");
  EXPECT_EQ(format_bytes(-2048), "-2.0 KiB");
  EXPECT_EQ(format_bytes(INT64_MIN), "-8388608.0 TiB");  // no overflow negating the minimum
}

TEST(ParseBytes, NumbersAndBinaryUnits) {
  EXPECT_EQ(parse_bytes("512"), 512u);
  EXPECT_EQ(parse_bytes("512 B"), 512u);
  EXPECT_EQ(parse_bytes("1 KiB"), 1024u);
  EXPECT_EQ(parse_bytes("1KB"), 1024u);
  EXPECT_EQ(parse_bytes("64k"), 65536u);
  EXPECT_EQ(parse_bytes("24 MB"), 24u * 1048576u);
  EXPECT_EQ(parse_bytes(" 1.5GiB "), 1610612736u);
  EXPECT_EQ(parse_bytes("+100 kb"), 102400u);
  EXPECT_EQ(parse_bytes("2 TiB"), std::size_t{2} << 40);
  EXPECT_EQ(parse_bytes("0.5 B"), 0u);
}

TEST(ParseBytes, BadStringsAreNamedWithTheProblem) {
  auto message = [](const char* text) {
    try {
      parse_bytes(text);
    } catch (const BadSize& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(message("lots"), "leakguard: 'lots' is not a size: it does not start with a number "
                             "(examples: 512, \"4 KiB\", \"24 MB\", \"1.5GiB\")");
  EXPECT_NE(message("").find("does not start with a number"), std::string::npos);
  EXPECT_NE(message("-5 MB").find("cannot be negative"), std::string::npos);
  EXPECT_NE(message("24 XB").find("unknown unit 'xb'"), std::string::npos);
  EXPECT_NE(message("24 MB extra").find("unexpected 'extra'"), std::string::npos);
  EXPECT_NE(message("1.2.3").find("unexpected '.3'"), std::string::npos);
  EXPECT_NE(message("99999999 TiB").find("larger than 16 EiB"), std::string::npos);
  EXPECT_THROW(parse_bytes("MB"), std::invalid_argument);  // BadSize is an invalid_argument
}

}  // namespace
}  // namespace leakguard
