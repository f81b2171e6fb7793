// The shared-library variant (leakguard::shared) interposes by load order and traces the same.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include <leakguard/leakguard.hpp>

namespace {

void keep(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

TEST(SharedLibrary, TheTracerIsTheSharedObject) {
  Dl_info info{};
  ASSERT_NE(dladdr(reinterpret_cast<void*>(&leakguard::is_tracing), &info), 0);
  EXPECT_NE(std::string(info.dli_fname).find("libleakguard.so"), std::string::npos) << info.dli_fname;
}

TEST(SharedLibrary, TracesTheProgramLibcInternalsAndLibstdcxx) {
  leakguard::start();
  const std::size_t base = leakguard::get_traced_memory().current;
  void* p = std::malloc(300); const int line = __LINE__;
  keep(p);
  char* dup = strdup("a string of 24 chars....");  // malloc'ed inside libc
  keep(dup);
  std::string* s = new std::string(1000, 'y');  // new inside user code, buffer inside libstdc++
  keep(s->data());
  EXPECT_EQ(leakguard::get_traced_memory().current - base, 300u + 25u + sizeof(std::string) + 1001u);
  const auto tb = leakguard::get_object_traceback(p);
  ASSERT_TRUE(tb.has_value());
  EXPECT_EQ(tb->attribution_frame().filename, __FILE__);
  EXPECT_EQ(tb->attribution_frame().lineno, line);
  std::free(p);
  std::free(dup);
  delete s;
  EXPECT_EQ(leakguard::get_traced_memory().current, base);
  leakguard::stop();
}

}  // namespace
