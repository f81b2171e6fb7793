// The exit sequence with leakguard linked: exit_probe's static destructors and atexit handlers
// allocate, free and call the API with tracing stopped before exit, still on, and while other
// threads go on allocating. The probe must print every step and exit 0.
#include <gtest/gtest.h>

#include <string>

#include "run_command.hpp"

namespace {

using ProbeRun = lgtest::CommandRun;

ProbeRun run_probe(const std::string& mode) {
  return lgtest::run_command(std::string("env -u LEAKGUARD_START ") + LEAKGUARD_EXIT_PROBE + " " + mode + " 2>&1");
}

TEST(Exit, StaticDestructorsAndAtexitHandlersAfterStop) {
  const ProbeRun run = run_probe("stopped");
  EXPECT_EQ(run.exit_code, 0) << "signal " << run.signal << "\n" << run.output;
  EXPECT_EQ(run.output,
            "main: returning\n"
            "atexit handler registered after stop: ok threw=1\n"
            "atexit handler: ok threw=1\n"
            "static destructor: ok threw=1\n"
            "static destructor: ok threw=1\n");
}

TEST(Exit, StaticDestructorsAndAtexitHandlersWhileTracing) {
  const ProbeRun run = run_probe("tracing");
  EXPECT_EQ(run.exit_code, 0) << "signal " << run.signal << "\n" << run.output;
  EXPECT_EQ(run.output,
            "main: returning\n"
            "atexit handler: ok traced=1\n"
            "static destructor: ok traced=1\n"
            "static destructor: ok traced=1\n");
}

TEST(Exit, ExitWhileOtherThreadsAllocate) {
  for (int round = 0; round < 3; ++round) {
    const ProbeRun run = run_probe("threads");
    ASSERT_EQ(run.exit_code, 0) << "round " << round << ", signal " << run.signal << "\n" << run.output;
    ASSERT_EQ(run.output,
              "main: returning\n"
              "atexit handler: ok traced=1\n"
              "static destructor: ok traced=1\n"
              "static destructor: ok traced=1\n")
        << "round " << round;
  }
}

}  // namespace
