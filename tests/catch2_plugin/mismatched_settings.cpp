// A test file compiled with other CATCH_CONFIG_* layout settings than the plugin: the plugin must
// say so and check nothing, rather than run with Catch2's classes laid out two ways.
#define CATCH_CONFIG_ENABLE_BENCHMARKING
#include <leakguard/catch2.hpp>

TEST_CASE("a case in a mismatched file", "[mismatch]") { CHECK(1 == 1); }
