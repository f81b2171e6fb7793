// A fork that lands while another thread initialises the tracer (its first start()) must leave
// the child able to trace: runs first_start_probe, a fresh process each time.
#include <gtest/gtest.h>

#include <string>

#include "run_command.hpp"

namespace {

TEST(FirstStart, ForkDuringTheFirstStartLeavesAWorkingChild) {
  for (int run = 0; run < 40; ++run) {
    const auto result = lgtest::run_command(std::string("env -u LEAKGUARD_START ") + LEAKGUARD_FIRST_START_PROBE + " 2>&1");
    ASSERT_EQ(result.exit_code, 0) << "run " << run << "\n" << result.output;
    ASSERT_EQ(result.output, "ok\n") << "run " << run;
  }
}

}  // namespace
