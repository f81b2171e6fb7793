// The per-test check against the size of the live heap: 1000 empty GoogleTest tests, with 10k,
// 100k or 1M blocks allocated before the first one (argument 1) and live throughout, run with
// the leakguard listener (LEAKGUARD_MODE=fail, the default) or without it (LEAKGUARD_MODE=off).
// Prints one JSON object: the blocks, the tests run (fewer under --gtest_filter) and the time
// RUN_ALL_TESTS took.
//
// A passing test's check costs what the test allocated, not what is live: the window counts are
// summed over threads. The blocks are reachable (a vector holds them), as a program's are.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "leakguard/gtest.hpp"

namespace {

constexpr int kTests = 1000;  // 200 left the per-test figure to the noise of a 1 ms run

class Empty : public ::testing::TestWithParam<int> {};
TEST_P(Empty, Test) {}
INSTANTIATE_TEST_SUITE_P(Heap, Empty, ::testing::Range(0, kTests));

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const long blocks = argc > 1 ? std::atol(argv[1]) : 10000;
  std::vector<void*> heap(static_cast<std::size_t>(blocks));
  for (auto& p : heap) p = std::malloc(48);
  leakguard::gtest::install();
  const auto t0 = std::chrono::steady_clock::now();
  const int rc = RUN_ALL_TESTS();
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  for (void* p : heap) std::free(p);
  const char* mode = std::getenv("LEAKGUARD_MODE");
  std::printf("bench-json: {\"live_blocks\": %ld, \"tests\": %d, \"mode\": \"%s\", \"run_ms\": %.3f}\n", blocks,
              ::testing::UnitTest::GetInstance()->test_to_run_count(), mode != nullptr ? mode : "fail", ms);
  return rc;
}
