// A fork that lands while another thread initialises the tracer (its first start()) must leave
// the child able to trace: runs first_start_probe, a fresh process each time, with the start
// landing at a different instant of the fork's prepare phase each run (0 to 600 us after it
// began). Before the fork handlers were registered at load, about 1 run in 25 left a hung child;
// while the first start still walked the loader's list (dl_iterate_phdr), about 1 in 600 did.
#include <gtest/gtest.h>

#include <string>

#include "run_command.hpp"

namespace {

TEST(FirstStart, ForkDuringTheFirstStartLeavesAWorkingChild) {
  for (int spin_us = 0; spin_us <= 600; spin_us += 5) {
    const auto result = lgtest::run_command(std::string("env -u LEAKGUARD_START ") + LEAKGUARD_FIRST_START_PROBE + " " +
                                            std::to_string(spin_us) + " 2>&1");
    ASSERT_EQ(result.exit_code, 0) << "spin " << spin_us << " us\n" << result.output;
    ASSERT_EQ(result.output, "ok\n") << "spin " << spin_us << " us";
  }
}

// The child of a fork that copied another thread inside dl_iterate_phdr inherits the loader's list
// lock held, for good: its first start and its allocations must not walk that list.
TEST(FirstStart, AChildForkedWhileAThreadWalksTheLoaderListStartsAndTraces) {
  for (int run = 0; run < 3; ++run) {
    const auto result = lgtest::run_command(std::string("env -u LEAKGUARD_START ") + LEAKGUARD_FIRST_START_PROBE + " loader 2>&1");
    ASSERT_EQ(result.exit_code, 0) << result.output;
    ASSERT_EQ(result.output, "ok\n") << "run " << run;
  }
}

// Not about the first start, but run here, a fresh process each time, for the same reason: a fork
// while leakguard walks the loader's list (a report's symbolizer does) waits for the walk to end.
TEST(ForkDuringALoaderWalk, TheForkWaitsAndTheChildSymbolizes) {
  for (int run = 0; run < 3; ++run) {
    const auto result = lgtest::run_command(std::string("env -u LEAKGUARD_START ") + LEAKGUARD_FORK_WALK_PROBE + " 2>&1");
    ASSERT_EQ(result.exit_code, 0) << result.output;
    ASSERT_EQ(result.output, "ok\n") << "run " << run;
  }
}

}  // namespace
