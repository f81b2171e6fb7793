// LEAKGUARD_START and LEAKGUARD_UNWIND: good values take effect before main, bad values are named
// on stderr and the program runs on untouched.
#include <gtest/gtest.h>

#include <string>

#include "run_command.hpp"

namespace {

using ProbeRun = lgtest::CommandRun;

// redirect: which streams reach the pipe (stdout and stderr by default).
ProbeRun run_probe(const std::string& env, const std::string& redirect = "2>&1") {
  return lgtest::run_command(env + " " + LEAKGUARD_ENV_PROBE + " " + redirect);
}

TEST(Environment, StartWithAFrameCountTracesFromBeforeMain) {
  const ProbeRun run = run_probe("LEAKGUARD_START=7");
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.output, "tracing=1 limit=7 traced=1\n");
}

TEST(Environment, UnsetMeansNotTracing) {
  const ProbeRun run = run_probe("env -u LEAKGUARD_START");
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.output, "tracing=0 limit=1 traced=0\n");
}

TEST(Environment, BadStartValuesAreNamedAndTheProgramRunsOn) {
  for (const std::string value : {"abc", "0", "999", "12x", "-3"}) {
    const ProbeRun run = run_probe("LEAKGUARD_START='" + value + "'");
    EXPECT_EQ(run.exit_code, 0) << value;
    EXPECT_EQ(run.output, "leakguard: LEAKGUARD_START='" + value +
                              "' is not a frame count (expected 1..128); tracing was not started\n"
                              "tracing=0 limit=1 traced=0\n")
        << value;
  }
}

TEST(Environment, TheMessageGoesToStderrAndTheProgramsOutputIsUntouched) {
  const ProbeRun err = run_probe("LEAKGUARD_START=999", "2>&1 >/dev/null");
  EXPECT_EQ(err.exit_code, 0);
  EXPECT_EQ(err.output,
            "leakguard: LEAKGUARD_START='999' is not a frame count (expected 1..128); tracing was "
            "not started\n");
  const ProbeRun out = run_probe("LEAKGUARD_START=999", "2>/dev/null");
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(out.output, "tracing=0 limit=1 traced=0\n");
}

TEST(Environment, UnwindModes) {
  EXPECT_EQ(run_probe("LEAKGUARD_START=16 LEAKGUARD_UNWIND=cfi").output, "tracing=1 limit=16 traced=1\n");
  EXPECT_EQ(run_probe("LEAKGUARD_START=16 LEAKGUARD_UNWIND=fp").output, "tracing=1 limit=16 traced=1\n");
  const ProbeRun bad = run_probe("LEAKGUARD_START=16 LEAKGUARD_UNWIND=dwarf");
  EXPECT_EQ(bad.exit_code, 0);
  EXPECT_EQ(bad.output,
            "leakguard: LEAKGUARD_UNWIND='dwarf' is not a stack walker (expected 'fp' or 'cfi'); using 'fp'\n"
            "tracing=1 limit=16 traced=1\n");
}

}  // namespace
