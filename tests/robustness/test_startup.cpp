// Tracing from before main (LEAKGUARD_START, set for this test by ctest) through static
// destruction.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include <leakguard/leakguard.hpp>

namespace {

void keep(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

int g_static_line = 0;
// A static initialiser that allocates: it runs before main, after leakguard's own constructor.
char* const g_made_before_main = [] {
  char* p = static_cast<char*>(std::malloc(2222)); g_static_line = __LINE__;
  keep(p);
  return p;
}();

// A static whose destructor allocates and frees during exit, with tracing still on (test_exit.cpp
// checks the exit sequence itself, step by step, in a probe process).
struct AllocatesWhenDestroyed {
  ~AllocatesWhenDestroyed() {
    std::string s(1000, 'x');
    keep(s.data());
    void* p = std::malloc(100);
    keep(p);
    std::free(p);
    std::free(g_made_before_main);
  }
} g_destroyed_last;

TEST(Startup, StaticInitialisationIsTracedWhenStartedFromTheEnvironment) {
  const char* env = std::getenv("LEAKGUARD_START");
  ASSERT_NE(env, nullptr) << "ctest sets LEAKGUARD_START for this test";
  ASSERT_TRUE(leakguard::is_tracing());
  EXPECT_EQ(leakguard::get_traceback_limit(), std::atoi(env));
  const auto snap = leakguard::take_snapshot().filter_traces({leakguard::Filter(true, __FILE__, g_static_line)});
  ASSERT_EQ(snap.traces().size(), 1u);
  EXPECT_EQ(snap.traces()[0].size, 2222u);
  const auto tb = leakguard::get_object_traceback(g_made_before_main);
  ASSERT_TRUE(tb.has_value());
  EXPECT_EQ(tb->attribution_frame().lineno, g_static_line);
}

}  // namespace
