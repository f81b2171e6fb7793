// A test binary as a user writes one, linked with leakguard::gtest_main. test_gtest_plugin.cpp
// runs it test by test and checks what GoogleTest reports.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace {

int g_leak_line = 0;

__attribute__((noinline)) void lose_a_buffer() {
  char* buffer = new char[4096]; g_leak_line = __LINE__;
  buffer[0] = 'x';
  asm volatile("" : : "r"(buffer) : "memory");
}  // the only pointer to it dies here

std::map<std::string, int>& cache() {
  static auto* c = new std::map<std::string, int>;  // a lazy static: held, not a leak
  return *c;
}

TEST(Sample, LeaksABuffer) {
  lose_a_buffer();
  std::printf("leak line %d\n", g_leak_line);
}

TEST(Sample, CleansUp) {
  std::vector<int> v(1000, 1);
  auto* p = new std::string(500, 'y');
  delete p;
  EXPECT_EQ(v.size(), 1000u);
}

TEST(Sample, FillsACache) {
  cache()["a key long enough for the heap " + std::to_string(1)] = 1;
  EXPECT_EQ(cache().size(), 1u);
}

TEST(Sample, FailsAndTracesWithoutLeaking) {
  SCOPED_TRACE("some context");
  EXPECT_EQ(1, 2) << "a failure message gtest keeps";
}

}  // namespace
