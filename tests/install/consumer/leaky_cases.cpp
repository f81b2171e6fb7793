// A Catch2 suite linked with the installed leakguard::catch2_main: the leaking case fails.
#include <leakguard/catch2.hpp>
#include <malloc.h>

namespace {
const bool g_mapped = ::mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1;  // as in leaky_tests.cpp

__attribute__((noinline)) void lose_a_buffer() {
  char* buffer = new char[256 * 1024];
  buffer[0] = 'x';
  asm volatile("" : : "r"(buffer) : "memory");
}
}  // namespace

TEST_CASE("consumer leaks") { lose_a_buffer(); }
TEST_CASE("consumer cleans up") { CHECK(g_mapped); }
