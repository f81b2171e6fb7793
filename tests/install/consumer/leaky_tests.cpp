// A GoogleTest suite linked with the installed leakguard::gtest_main: the leaking test fails.
#include <gtest/gtest.h>
#include <malloc.h>

namespace {
// Mapped on its own, so that no stale word of a reused heap chunk can name it (see
// tests/gtest_plugin/sample_tests.cpp).
const bool g_mapped = ::mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1;

__attribute__((noinline)) void lose_a_buffer() {
  char* buffer = new char[256 * 1024];
  buffer[0] = 'x';
  asm volatile("" : : "r"(buffer) : "memory");
}

TEST(Consumer, Leaks) { lose_a_buffer(); }
TEST(Consumer, CleansUp) { EXPECT_TRUE(g_mapped); }
}  // namespace
