// Compiled three times, with CMake's Debug, Release and RelWithDebInfo flags (see CMakeLists.txt):
// the recorded stack names the right functions, in order, through code of ours built with frame
// pointers and through libstdc++ built without them; with debug info it also names file:line.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <leakguard/leakguard.hpp>

namespace {

void keep(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

int g_malloc_line = 0;
int g_level2_line = 0;
int g_level1_line = 0;
int g_test_line = 0;
int g_push_line = 0;

__attribute__((noinline)) void* level3(std::size_t n) {
  void* p = std::malloc(n); g_malloc_line = __LINE__;
  keep(p);
  return p;
}
__attribute__((noinline)) void* level2(std::size_t n) {
  void* p = level3(n); g_level2_line = __LINE__;
  keep(p);
  return p;
}
__attribute__((noinline)) void* level1(std::size_t n) {
  void* p = level2(n); g_level1_line = __LINE__;
  keep(p);
  return p;
}

// std::string::append(n, c) runs libstdc++'s out-of-line _M_replace_aux and _M_create, which are
// compiled without frame pointers: the walker must step them with their unwind tables.
__attribute__((noinline)) std::string* grow_string() {
  auto* s = new std::string;
  s->append(5000, 'x');
  keep(s->data());
  return s;
}

// std::vector growth: the allocator's inline frames (operator new <- allocate <- _M_realloc_insert
// <- push_back), then the caller.
__attribute__((noinline)) std::vector<long>* fill_vector() {
  auto* v = new std::vector<long>;
  for (long i = 0; i < 1000; ++i) {
    v->push_back(i); g_push_line = __LINE__;
  }
  keep(v->data());
  return v;
}

// A std::vector<std::string> whose strings are built by libstdc++'s out-of-line code, from a
// vector's push_back: both kinds of frame in one stack.
__attribute__((noinline)) std::vector<std::string>* fill_strings() {
  auto* v = new std::vector<std::string>;
  for (int i = 0; i < 20; ++i) v->push_back(std::string(100 + i, 'z'));
  keep(v->data());
  return v;
}

// Index of the first frame at or after `from` whose function contains `name`, or -1.
int find_function(const leakguard::Traceback& tb, const std::string& name, std::size_t from = 0) {
  for (std::size_t i = from; i < tb.size(); ++i) {
    if (tb[i].function.find(name) != std::string::npos) return static_cast<int>(i);
  }
  return -1;
}

std::string dump(const leakguard::Traceback& tb) {
  std::string out;
  for (const auto& f : tb) out += "\n  " + f.function + " @ " + f.str() + (f.inlined ? " [inlined]" : "");
  return out;
}

TEST(BuildTypes, OwnFramesAreWalkedInOrder) {
  leakguard::start(32);
  void* p = level1(100); g_test_line = __LINE__;
  const auto tb = leakguard::get_object_traceback(p);
  ASSERT_TRUE(tb.has_value());
  const int l3 = find_function(*tb, "level3");
  const int l2 = find_function(*tb, "level2");
  const int l1 = find_function(*tb, "level1");
  const int test = find_function(*tb, "OwnFramesAreWalkedInOrder");
  EXPECT_EQ(l3, 0) << dump(*tb);  // no leakguard or allocator frame before it
  EXPECT_EQ(l2, l3 + 1) << dump(*tb);
  EXPECT_EQ(l1, l2 + 1) << dump(*tb);
  EXPECT_GT(test, l1) << dump(*tb);
  const auto lines = tb->format(4, /*most_recent_first=*/true);
  const std::string hint = "  (no file:line for " + (*tb)[0].module + ": built without debug info";
#ifdef LEAKGUARD_TEST_HAS_DEBUG_INFO
  EXPECT_EQ((*tb)[0].filename, __FILE__);
  EXPECT_EQ((*tb)[0].lineno, g_malloc_line);
  EXPECT_EQ(tb->str(), std::string(__FILE__) + ":" + std::to_string(g_malloc_line));
  // Every frame of the chain has the line of its call.
  EXPECT_EQ((*tb)[l2].filename, __FILE__);
  EXPECT_EQ((*tb)[l2].lineno, g_level2_line) << dump(*tb);
  EXPECT_EQ((*tb)[l1].lineno, g_level1_line) << dump(*tb);
  EXPECT_EQ((*tb)[test].lineno, g_test_line) << dump(*tb);
  for (const auto& line : lines) EXPECT_EQ(line.find("(no file:line"), std::string::npos) << line;
#else
  // The formatted traceback says how to get file:line.
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back().rfind(hint, 0), 0u) << lines.back();
  // Without debug info: function and module+offset, no file:line.
  EXPECT_TRUE((*tb)[0].filename.empty()) << (*tb)[0].filename;
  EXPECT_EQ((*tb)[0].lineno, 0);
  EXPECT_FALSE((*tb)[0].module.empty());
  EXPECT_NE((*tb)[0].str().find("level3"), std::string::npos) << (*tb)[0].str();
  EXPECT_NE((*tb)[0].str().find("+0x"), std::string::npos) << (*tb)[0].str();
  for (int i : {l2, l1, test}) {
    EXPECT_TRUE((*tb)[i].filename.empty()) << dump(*tb);
    EXPECT_FALSE((*tb)[i].module.empty()) << dump(*tb);
  }
#endif
  std::free(p);
  leakguard::stop();
}

TEST(BuildTypes, StacksWalkThroughLibstdcxxToTheCaller) {
  leakguard::start(32);
  std::string* s = grow_string();
  const auto tb = leakguard::get_object_traceback(s->data());
  ASSERT_TRUE(tb.has_value());
  int in_libstdcxx = -1;
  for (std::size_t i = 0; i < tb->size(); ++i) {
    if ((*tb)[i].module.find("libstdc++") != std::string::npos) in_libstdcxx = static_cast<int>(i);
  }
  EXPECT_GE(in_libstdcxx, 0) << "the allocation was expected to come from libstdc++'s own code" << dump(*tb);
  const int caller = find_function(*tb, "grow_string");
  const int test = find_function(*tb, "StacksWalkThroughLibstdcxxToTheCaller");
  EXPECT_GT(caller, in_libstdcxx) << dump(*tb);
  EXPECT_GT(test, caller) << dump(*tb);
  delete s;
  leakguard::stop();
}

TEST(BuildTypes, VectorGrowthIsAttributedToThePushBack) {
  leakguard::start(32);
  std::vector<long>* v = fill_vector();
  const auto tb = leakguard::get_object_traceback(v->data());
  ASSERT_TRUE(tb.has_value());
  const int caller = find_function(*tb, "fill_vector");
  const int test = find_function(*tb, "VectorGrowthIsAttributedToThePushBack");
  EXPECT_GE(caller, 0) << dump(*tb);
  EXPECT_GT(test, caller) << dump(*tb);
#ifdef LEAKGUARD_TEST_HAS_DEBUG_INFO
  // The standard library's frames (inlined or not) come first; the block is attributed to the line
  // that called push_back.
  EXPECT_GE(find_function(*tb, "push_back"), 0) << dump(*tb);
  EXPECT_EQ(tb->attribution_frame().filename, __FILE__) << dump(*tb);
  EXPECT_EQ(tb->attribution_frame().lineno, g_push_line) << dump(*tb);
#endif
  delete v;
  leakguard::stop();
}

TEST(BuildTypes, StringsBuiltInsideAVectorPushBackWalkToTheCaller) {
  leakguard::start(32);
  std::vector<std::string>* v = fill_strings();
  const auto tb = leakguard::get_object_traceback(v->back().data());
  ASSERT_TRUE(tb.has_value());
  const int caller = find_function(*tb, "fill_strings");
  const int test = find_function(*tb, "StringsBuiltInsideAVectorPushBackWalkToTheCaller");
  EXPECT_GE(caller, 0) << dump(*tb);
  EXPECT_GT(test, caller) << dump(*tb);
  EXPECT_EQ(tb->attribution_frame().function.find("std::"), std::string::npos) << dump(*tb);
  delete v;
  leakguard::stop();
}

}  // namespace
