// Test cases written with CATCH_CONFIG_PREFIX_ALL: the plugin's macros take the CATCH_ prefix too.
#define CATCH_CONFIG_PREFIX_ALL
#include <leakguard/catch2.hpp>

#include <vector>

namespace {
void keep(const void* p) { asm volatile("" : : "r"(p) : "memory"); }
__attribute__((noinline)) void lose() { keep(new char[220 * 1024]); }
}  // namespace

CATCH_TEST_CASE("prefixed macros", "[prefixed]") {
  CATCH_CHECK_NO_LEAK((void)std::vector<int>(100).size());
  CATCH_CHECK_NO_LEAK(lose());
  CATCH_CHECK_MEMORY_WITHIN("1 KiB", { std::vector<char> big(4096); keep(big.data()); });
  CATCH_CHECK_NET_MEMORY_WITHIN(64, { std::vector<char> freed(4096); keep(freed.data()); });
  CATCH_REQUIRE_MEMORY_WITHIN(16, { std::vector<char> big(2048); keep(big.data()); });
  CATCH_CHECK(false);  // not reached: the REQUIRE_ form ends the test case
}

CATCH_TEST_CASE("a leak the listener catches", "[prefixed]") { lose(); }
