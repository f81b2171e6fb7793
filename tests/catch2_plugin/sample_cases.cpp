// A Catch2 test program as a user writes one, linked with leakguard::catch2_main.
// test_catch2_plugin.cpp runs it case by case and checks what Catch2 reports.
#include <leakguard/catch2.hpp>

#include <malloc.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

// Leaked blocks are big enough to get a mapping of their own (see the GoogleTest sample).
const bool g_mapped_leaks = ::mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1;

void keep(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

// Allocations 20 frames down: their dead frames lie where the check wipes the stack.
__attribute__((noinline)) int deep(int depth, void (*fn)()) {
  if (depth > 0) {
    deep(depth - 1, fn);
  } else {
    fn();
  }
  asm volatile("" ::: "memory");
  return 0;
}

int g_leak_line = 0;

void leak_one() {
  deep(20, [] {
    char* lost = new char[200 * 1024]; g_leak_line = __LINE__;
    keep(lost);
  });
}

std::map<std::string, int>& cache() {
  static auto* c = new std::map<std::string, int>;  // a lazy static: held, not a leak
  return *c;
}

}  // namespace

TEST_CASE("a section leaks", "[sample]") {
  std::vector<int> every_run(100, 1);
  SECTION("clean") { CHECK(every_run.size() == 100u); }
  SECTION("leaks") {
    leak_one();
    std::fprintf(stderr, "leak line %d\n", g_leak_line);
  }
}

TEST_CASE("clean sections pass", "[sample][discover]") {
  SECTION("one") {
    auto* s = new std::string(300, 'x');
    delete s;
  }
  SECTION("two") { CHECK(std::vector<int>(50).size() == 50u); }
}

TEST_CASE("Catch2's own records pass", "[sample][discover]") {
  const int value = GENERATE(1, 2, 3);
  INFO("the value is " << value);
  CAPTURE(value);
  std::cout << "output the JUnit reporter captures, run " << value << std::string(200, '.') << std::endl;
  for (int i = 0; i < 50; ++i) CHECK(value + i > 0);
  WARN("a warning Catch2 keeps");
  SECTION("a section") { CHECK(std::string(100, 'y').size() == 100u); }
}

TEST_CASE("a lazy static passes", "[sample][discover]") {
  cache()["a key long enough for the heap " + std::to_string(1)] = 1;
  CHECK(cache().size() == 1u);
}

TEST_CASE("a generator value leaks", "[sample]") {
  const int value = GENERATE(1, 2, 3);
  if (value == 2) leak_one();
}

namespace {
struct Fixture {
  std::vector<int> owned = std::vector<int>(1000);
};
}  // namespace

TEST_CASE_METHOD(Fixture, "a fixture's test leaks", "[sample]") {
  CHECK(owned.size() == 1000u);
  leak_one();
}

TEST_CASE("throws out of the test", "[sample]") {
  std::vector<int> v(100);
  throw std::runtime_error("out of the test");
}

TEST_CASE("a block freed by a background thread soon after", "[sample]") {
  auto* handed_over = new std::vector<int>(500);
  std::thread([handed_over] {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    delete handed_over;
  }).detach();
}

TEST_CASE("opted out by tag", "[opts][noleakcheck]") { leak_one(); }

TEST_CASE("skips its check", "[opts]") {
  LEAKGUARD_SKIP_LEAK_CHECK();
  leak_one();
}

TEST_CASE("leaks one on purpose", "[opts]") {
  LEAKGUARD_EXPECT_LEAKS(1);
  leak_one();
}

TEST_CASE("ignores an object", "[opts]") {
  char* on_purpose = new char[180 * 1024];
  leakguard::ignore_object(on_purpose);
  keep(on_purpose);
}

int g_macro_line = 0;

TEST_CASE("no-leak assertions", "[macros]") {
  CHECK_NO_LEAK(std::vector<int> v(100, 1); (void)v);
  CHECK_NO_LEAK({
    std::map<int, int> m;
    m[1] = 2, m[3] = 4;  // a top-level comma inside the braced block
  });
  INFO("context from the user");
  CHECK_NO_LEAK({ char* lost = new char[300 * 1024]; g_macro_line = __LINE__; keep(lost); });
  std::fprintf(stderr, "macro leak line %d\n", g_macro_line);
  EXPECT_NO_LEAK(std::string(10, 'a'));
}

TEST_CASE("require-no-leak stops the test case", "[macros]") {
  REQUIRE_NO_LEAK({ char* lost = new char[210 * 1024]; keep(lost); });
  std::fprintf(stderr, "not reached\n");
}

TEST_CASE("memory assertions", "[macros]") {
  CHECK_MEMORY_WITHIN("64 KiB", { std::vector<char> big(32 * 1024); keep(big.data()); });
  CHECK_MEMORY_WITHIN(1024, { std::vector<char> big(8 * 1024); keep(big.data()); }); std::fprintf(stderr, "budget line %d\n", __LINE__);
  CHECK_NET_MEMORY_WITHIN(1024, { std::vector<char> big(8 * 1024); keep(big.data()); });
  EXPECT_MEMORY_WITHIN("1 MiB", { std::vector<char> big(8 * 1024); keep(big.data()); });
}

__attribute__((noinline)) void suppressed_leaker() { keep(new char[170 * 1024]); }

TEST_CASE("suppressed by the suppressions file", "[opts2]") { deep(5, suppressed_leaker); }

TEST_CASE("leaks inside ScopedUntraced", "[opts2]") {
  leakguard::ScopedUntraced untraced;
  keep(new char[190 * 1024]);
}

TEST_CASE("its own net budget", "[budgets]") {
  LEAKGUARD_TEST_NET_BUDGET("1 KiB");
  static std::vector<std::string> kept;  // reachable: only the budget fails it
  kept.emplace_back(4000, 'n');
}

TEST_CASE("its own peak budget", "[budgets]") {
  LEAKGUARD_TEST_PEAK_BUDGET(16 * 1024);
  std::vector<char> transient(64 * 1024);
  keep(transient.data());
}

TEST_CASE("holds a lot reachably", "[budgets]") {
  static std::vector<std::string> big_cache;
  big_cache.emplace_back(300 * 1024, 'h');
}

namespace {
std::vector<std::string>& registry() {
  static auto* r = new std::vector<std::string>;
  return *r;
}
std::map<int, std::string>& first_use_cache() {
  static auto* c = new std::map<int, std::string>;
  return *c;
}
}  // namespace

TEST_CASE("a global container grows on every run", "[repeat]") {
  registry().emplace_back(100, 'r');  // reachable, and one more on every call
}

TEST_CASE("a first-use cache grows once", "[repeat]") {
  if (first_use_cache().empty()) first_use_cache()[1] = std::string(100, 'c');
  CHECK(first_use_cache().size() == 1u);
}

TEST_CASE("runs are told apart by their sections", "[repeat]") {
  SECTION("steady") { CHECK(std::string(100, 's').size() == 100u); }
  SECTION("grows") { registry().emplace_back(100, 'g'); }
}

namespace {
struct Order {
  int id = 7;
  double price = 1.5;
  std::string note;
};
int g_small_leak_line = 0;
__attribute__((noinline)) void lose_an_order() {
  auto* order = new Order; g_small_leak_line = __LINE__;
  keep(order);
}
}  // namespace

TEST_CASE("a small object leaks", "[small]") {
  SECTION("first") { CHECK(std::string(40, 'f').size() == 40u); }
  SECTION("loses an order") {
    lose_an_order();
    std::fprintf(stderr, "small leak line %d\n", g_small_leak_line);
  }
}

TEST_CASE("a joined thread drops a block", "[small]") {
  std::thread([] { keep(new std::vector<int>(30)); }).join();
}


// Statement assertions that fail inside a section and in a case opted out by tag: the run file
// records each under its own name (tests/cli).
TEST_CASE("a statement leaks in a section", "[runfile]") {
  SECTION("inner") { CHECK_NO_LEAK({ char* lost = new char[220 * 1024]; keep(lost); }); }
}

TEST_CASE("a statement leaks in an opted-out case", "[runfile][noleakcheck]") {
  CHECK_NO_LEAK({ char* lost = new char[230 * 1024]; keep(lost); });
}

// A crash in the middle of the run, for the run file's test (tests/cli); passes unless
// LG_SAMPLE_CRASH is set.
TEST_CASE("the run crashes", "[runfile]") {
  if (std::getenv("LG_SAMPLE_CRASH") != nullptr) std::raise(SIGSEGV);
  CHECK(true);
}
