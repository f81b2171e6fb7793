// A test binary as a user writes one, linked with leakguard::gtest_main. test_gtest_plugin.cpp
// runs it test by test and checks what GoogleTest reports.
#include <gtest/gtest.h>
#include <leakguard/gtest.hpp>

#include <dlfcn.h>
#include <malloc.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <locale>
#include <deque>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace {

int g_leak_line = 0;

// The leaked blocks of these samples are large enough for glibc to map them on their own: a small
// block carved from reused heap memory can be named by stale data there, which the conservative
// scan counts (erring toward "held"), and the self-tests must not depend on heap layout. glibc
// raises its mmap threshold each time a mapped block is freed; fixing it keeps these mapped.
const bool g_mapped_leaks = ::mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1;
__attribute__((noinline)) void lose_a_buffer() {
  char* buffer = new char[256 * 1024]; g_leak_line = __LINE__;
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

// The everyday leak: a small object, from the heap's recycled chunks (the order book of
// examples/gtest_leak_check.cpp loses one of these).
struct Order {
  int id = 7;
  double price = 1.5;
  std::string note;
};
int g_small_leak_line = 0;
__attribute__((noinline)) void lose_an_order() {
  auto* order = new Order; g_small_leak_line = __LINE__;
  asm volatile("" : : "r"(order) : "memory");
}

TEST(Sample, LeaksASmallObject) {
  lose_an_order();
  std::printf("small leak line %d\n", g_small_leak_line);
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

namespace {

int g_macro_line = 0;

// Keeps the optimizer from removing an allocation whose only use is a leak.
void keep(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

TEST(Macros, NoLeakPassesAndFails) {
  EXPECT_NO_LEAK(std::vector<int> v(100, 1); (void)v);  // a statement with a comma-free body
  EXPECT_NO_LEAK({
    std::map<int, int> m;
    m[1] = 2, m[3] = 4;  // a top-level comma inside the braced block
  });
  EXPECT_NO_LEAK({ char* lost = new char[300 * 1024]; g_macro_line = __LINE__; keep(lost); }) << "context from the user";
  std::printf("macro leak line %d\n", g_macro_line);
}

TEST(Macros, AssertNoLeakStopsTheTest) {
  ASSERT_NO_LEAK({ char* lost = new char[200 * 1024]; keep(lost); });
  std::printf("not reached\n");
}

std::vector<std::string*> g_macro_registry = [] {
  std::vector<std::string*> v;
  v.reserve(4);  // before any test: the container's own growth is not the statement's
  return v;
}();

TEST(Macros, StrictCountsReachableGrowth) {
  EXPECT_NO_LEAK(g_macro_registry.push_back(new std::string(200, 'z')));
}

TEST(Macros, MemoryWithin) {
  EXPECT_MEMORY_WITHIN("64 KiB", { std::vector<char> big(32 * 1024); });
  EXPECT_MEMORY_WITHIN(1024, { std::vector<char> big(8 * 1024); }); std::printf("budget line %d\n", __LINE__);
  EXPECT_NET_MEMORY_WITHIN(1024, { std::vector<char> big(8 * 1024); });  // peak 8 KiB, net 0: passes
}

std::vector<std::vector<char>> g_macro_kept;
TEST(Macros, NetMemoryWithinFails) {
  EXPECT_NET_MEMORY_WITHIN("4 KiB", g_macro_kept.emplace_back(64 * 1024)); std::printf("net line %d\n", __LINE__);
  g_macro_kept.clear();
}

}  // namespace

namespace {

// A thread that has ended holds nothing: what it dropped is the test's leak.
TEST(Threads, LeaksInAJoinedThread) {
  std::thread([] {
    auto* lost = new std::vector<int>(30);
    asm volatile("" : : "r"(lost) : "memory");
  }).join();
}

TEST(Threads, ABlockFreedByABackgroundThreadSoonAfterTheTest) {
  auto* handed_over = new std::vector<int>(500);
  std::thread([handed_over] {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    delete handed_over;
  }).detach();
}

}  // namespace

namespace {

// The leaks happen 20 frames down, where the check wipes the dead stack before it scans, and
// every level returns 0: a leaked block's address left in the return register would otherwise
// travel up into GoogleTest's live frames, which the scan reads (erring toward "held").
__attribute__((noinline)) int deep(int depth, void (*fn)()) {
  if (depth > 0) {
    deep(depth - 1, fn);
  } else {
    fn();
  }
  asm volatile("" ::: "memory");
  return 0;
}

__attribute__((noinline)) void leak_blocks(int n) {
  static int count;
  count = n;
  deep(20, [] {
    for (int i = 0; i < count; ++i) keep(new char[160 * 1024]);
  });
}

__attribute__((noinline)) void suppressed_leaker() { keep(new char[170 * 1024]); }

TEST(Opts, SkipsItsCheck) {
  LEAKGUARD_SKIP_LEAK_CHECK();
  leak_blocks(1);
}

TEST(Opts, LeaksTwoOnPurpose) {
  EXPECT_LEAKS(2);
  leak_blocks(2);
}

TEST(Opts, AllowsOneButLeaksThree) {
  EXPECT_LEAKS(1);
  leak_blocks(3);
}

TEST(Opts, LeaksInASuppressedFunction) { deep(20, suppressed_leaker); }

}  // namespace

namespace {

std::vector<int*> g_registry;  // a global container that only grows: a logical leak

TEST(Repeat, GrowsAGlobalEveryRun) {
  g_registry.push_back(new int[64]);  // reachable, so only the repeated-run rule sees it
}

std::vector<int>& lazy_table() {
  static auto* table = new std::vector<int>(512);
  return *table;
}

TEST(Repeat, FillsALazyStaticOnce) { EXPECT_EQ(lazy_table().size(), 512u); }

// Memory that stays the same size from run to run, though each run makes it anew: no leak.
struct Config {
  std::string name = std::string(100, 'c');
  std::vector<int> values = std::vector<int>(20);
};
std::unique_ptr<Config> g_config;
TEST(Repeat, ReplacesAGlobalEveryRun) { g_config = std::make_unique<Config>(); }

std::deque<std::string> g_recent;  // the last two entries
TEST(Repeat, KeepsABoundedHistory) {
  g_recent.emplace_back(200, 'h');
  if (g_recent.size() > 2) g_recent.pop_front();
}

}  // namespace

namespace {

std::vector<std::vector<char>*> g_kept;  // reachable growth: only a budget or strict mode sees it

int g_budget_line = 0;

TEST(Budget, NetGrowthOverTheTestsBudget) {
  LEAKGUARD_TEST_NET_BUDGET("64 KiB");
  g_kept.push_back(new std::vector<char>(200 * 1024)); g_budget_line = __LINE__;
  std::printf("net budget line %d\n", g_budget_line);
}

TEST(Budget, NetGrowthWithinTheTestsBudget) {
  LEAKGUARD_TEST_NET_BUDGET(512 * 1024);
  g_kept.push_back(new std::vector<char>(200 * 1024));
}

TEST(Budget, PeakOverTheTestsBudget) {
  LEAKGUARD_TEST_PEAK_BUDGET("1 MiB");
  std::vector<char> big(2 * 1024 * 1024); g_budget_line = __LINE__;
  keep(big.data());
  std::printf("peak budget line %d\n", g_budget_line);
}

// The test's budget holds around a statement's own, tighter one, which fails on its own.
TEST(Budget, PeakWithinTheTestsBudgetAroundAMemoryWithin) {
  LEAKGUARD_TEST_PEAK_BUDGET("4 MiB");
  EXPECT_MEMORY_WITHIN("1 MiB", { std::vector<char> half(512 * 1024); keep(half.data()); });
  EXPECT_MEMORY_WITHIN("1 MiB", { std::vector<char> two(2 * 1024 * 1024); keep(two.data()); });
}

// A whole suite opted out in code, and the scoped escape hatches inside a checked test.
LEAKGUARD_SKIP_LEAK_CHECK_SUITE(Unchecked);

TEST(Unchecked, LeaksFreely) { leak_blocks(1); }

TEST(Opts, IgnoresAnObject) {
  char* on_purpose = new char[180 * 1024];
  leakguard::ignore_object(on_purpose);
  keep(on_purpose);
}

TEST(Opts, LeaksInsideAnUntracedScope) {
  leakguard::ScopedUntraced untraced;
  leak_blocks(1);
}

}  // namespace

namespace {

// What the runtime and GoogleTest allocate for themselves on first use, once per process. None of
// it fails a test, in any mode.
TEST(Noise, RuntimeAndFrameworkFirstUse) {
  std::cout << "iostreams " << 1.5 << std::endl;
  std::cerr.imbue(std::locale::classic());
  try {
    throw std::runtime_error("thrown and caught");
  } catch (const std::exception& e) {
    EXPECT_STREQ(e.what(), "thrown and caught");
  }
  ::tzset();
  std::time_t now = std::time(nullptr);
  std::tm parts{};
  ::localtime_r(&now, &parts);
  char when[64];
  std::strftime(when, sizeof when, "%c", &parts);
  if (void* m = ::dlopen("libm.so.6", RTLD_NOW)) ::dlclose(m);
  RecordProperty("a_property", "its value");
  SCOPED_TRACE("a trace");
  EXPECT_EQ(::testing::PrintToString(std::vector<int>{1, 2, 3}), "{ 1, 2, 3 }");
  std::printf("printed %s\n", ::testing::PrintToString(std::map<int, std::string>{{1, "one"}}).c_str());
}

}  // namespace

namespace {

TEST(Edge, LeaksThenSkips) {
  leak_blocks(1);
  GTEST_SKIP() << "skipped: not judged";
}

TEST(Edge, ThrowsOutOfTheTest) {
  std::vector<int> v(100);
  throw std::runtime_error("out of the test");
}

TEST(Edge, DiesInAChildThatLeaks) {
  EXPECT_DEATH(
      {
        leak_blocks(1);
        std::fprintf(stderr, "dying now\n");
        std::abort();
      },
      "dying now");
}

// Ends the process in the middle of the run, for the run file's test (tests/cli); skipped unless
// LG_SAMPLE_CRASH is set.
TEST(Crash, AbortsTheRun) {
  if (std::getenv("LG_SAMPLE_CRASH") == nullptr) GTEST_SKIP() << "only with LG_SAMPLE_CRASH set";
  std::abort();
}

TEST(Edge, LeaksAfterADeathTest) {
  EXPECT_DEATH(std::abort(), "");
  leak_blocks(1);
}

// Made by a static constructor, before main: tracing had started when the program loaded.
std::string* const g_made_at_static_init = new std::string(300, 's');

TEST(Edge, StaticInitialisationIsTraced) {
  const auto traceback = leakguard::get_object_traceback(g_made_at_static_init);
  ASSERT_TRUE(traceback.has_value());
  EXPECT_NE(traceback->attribution_frame().filename.find("sample_tests.cpp"), std::string::npos)
      << traceback->attribution_frame().filename;
}

class Sizes : public ::testing::TestWithParam<int> {};

TEST_P(Sizes, LeaksOnlyForTwo) {
  if (GetParam() == 2) leak_blocks(1);
}

INSTANTIATE_TEST_SUITE_P(Each, Sizes, ::testing::Values(1, 2, 3));

template <class T>
class Typed : public ::testing::Test {};
using Types = ::testing::Types<int, double>;
TYPED_TEST_SUITE(Typed, Types);

TYPED_TEST(Typed, LeaksForDoubleOnly) {
  if (std::is_same_v<TypeParam, double>) leak_blocks(1);
}

// Typed and type-parameterized suites opted out by name, as plain ones.
template <class T>
class TypedUnchecked : public ::testing::Test {};
TYPED_TEST_SUITE(TypedUnchecked, Types);
LEAKGUARD_SKIP_LEAK_CHECK_SUITE(TypedUnchecked);
TYPED_TEST(TypedUnchecked, Leaks) { leak_blocks(1); }

template <class T>
class TypeParamUnchecked : public ::testing::Test {};
TYPED_TEST_SUITE_P(TypeParamUnchecked);
LEAKGUARD_SKIP_LEAK_CHECK_SUITE(TypeParamUnchecked);
TYPED_TEST_P(TypeParamUnchecked, Leaks) { leak_blocks(1); }
REGISTER_TYPED_TEST_SUITE_P(TypeParamUnchecked, Leaks);
INSTANTIATE_TYPED_TEST_SUITE_P(My, TypeParamUnchecked, Types);

}  // namespace

namespace {

// A fixture's SetUp, TearDown and destructor are inside the test's window: what they lose is the
// test's leak, and what the destructor frees is no leak.
class Fixture : public ::testing::Test {
 protected:
  void SetUp() override {
    owned_ = new std::vector<char>(150 * 1024);
    if (std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) == "LeaksInSetUp") leak_blocks(1);
  }
  void TearDown() override {
    if (std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) == "LeaksInTearDown") leak_blocks(1);
  }
  ~Fixture() override { delete owned_; }

  std::vector<char>* owned_ = nullptr;
};

TEST_F(Fixture, LeaksInSetUp) {}
TEST_F(Fixture, LeaksInTearDown) {}
TEST_F(Fixture, FreesInItsDestructor) { EXPECT_EQ(owned_->size(), 150u * 1024); }

}  // namespace
