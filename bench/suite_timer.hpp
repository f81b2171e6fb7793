// Times a GoogleTest run from the first test's start to the last test's end, in microseconds
// (GoogleTest's own total is in whole milliseconds), with a global environment: its SetUp runs
// before any listener sees the first test and its TearDown after the last test ended. Prints
// "bench-json: {...}" on stdout.
#pragma once
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

namespace leakguard_bench {

class SuiteTimer : public ::testing::Environment {
 public:
  void SetUp() override { start_ = std::chrono::steady_clock::now(); }
  void TearDown() override {
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start_).count();
    const int tests = ::testing::UnitTest::GetInstance()->test_to_run_count();
    std::printf("bench-json: {\"tests\": %d, \"run_us\": %.1f}\n", tests, us);
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

inline ::testing::Environment* const g_suite_timer = ::testing::AddGlobalTestEnvironment(new SuiteTimer);

}  // namespace leakguard_bench
