// The `leakguard` command: a ctest-like run of the plugins' samples, one process per test, writes
// run files that `leakguard merge` turns into one report; bad files are named and skipped; and
// `stats`, `diff` and `show` read files written by another process.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <leakguard/leakguard.hpp>

#include "../output_checks.hpp"
#include "../robustness/run_command.hpp"

namespace {

using lgtest::contains;

// A fresh directory for one test's files.
std::string fresh_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/lg_cli_" + name + "_" + std::to_string(::getpid());
  lgtest::run_command("rm -rf '" + dir + "' && mkdir -p '" + dir + "'");
  return dir;
}

// None of the caller's settings reach the samples.
constexpr const char* kCleanEnv =
    "env -u LEAKGUARD_START -u LEAKGUARD_MODE -u LEAKGUARD_REPEAT -u LEAKGUARD_SKIP -u LEAKGUARD_NET_BUDGET "
    "-u LEAKGUARD_PEAK_BUDGET -u LEAKGUARD_SUPPRESSIONS -u LEAKGUARD_REPORT_DIR -u GTEST_OUTPUT -u LG_SAMPLE_CRASH";

// One sample test in a process of its own, as ctest runs a discovered test.
lgtest::CommandRun run_sample_test(const std::string& filter, const std::string& env) {
  return lgtest::run_command(std::string(kCleanEnv) + " " + env + " " + LEAKGUARD_SAMPLE_TESTS + " --gtest_filter=" +
                             filter + " 2>&1");
}

// stdout and stderr apart: reports go to stdout, problems to stderr.
struct CliRun {
  std::string out;
  std::string err;
  int exit_code = -1;
};

CliRun cli(const std::string& args) {
  static int n = 0;
  const std::string err_file = ::testing::TempDir() + "/lg_cli_err_" + std::to_string(::getpid()) + "_" +
                               std::to_string(n++);
  const auto run = lgtest::run_command(std::string("NO_COLOR=1 ") + LEAKGUARD_CLI + " " + args + " 2>" + err_file);
  CliRun r;
  r.out = run.output;
  r.exit_code = run.exit_code;
  r.err = lgtest::run_command("cat " + err_file).output;
  std::remove(err_file.c_str());
  return r;
}

std::size_t files_in(const std::string& dir) {
  const auto ls = lgtest::run_command("ls '" + dir + "' | grep -c '\\.leakguard\\.jsonl$'");
  return static_cast<std::size_t>(std::atoi(ls.output.c_str()));
}

std::string line_printed(const std::string& output, const std::string& label) {
  return lgtest::printed_line(output, label);
}

TEST(Cli, MergesTheRunFilesOfACtestLikeRun) {
  const std::string dir = fresh_dir("merge");
  const std::string env = "LEAKGUARD_REPORT_DIR=" + dir;
  const auto leak = run_sample_test("Sample.LeaksABuffer", env);
  EXPECT_EQ(leak.exit_code, 1) << leak.output;
  const std::string leak_line = line_printed(leak.output, "leak line ");
  EXPECT_EQ(run_sample_test("Sample.CleansUp", env).exit_code, 0);
  EXPECT_EQ(run_sample_test("Sample.LeaksASmallObject", env).exit_code, 1);
  EXPECT_EQ(files_in(dir), 3u) << "one run file per test process, passing ones too";

  const CliRun merged = cli("merge " + dir);
  EXPECT_EQ(merged.exit_code, 1) << "a failing test: exit 1\n" << merged.out << merged.err;
  EXPECT_EQ(merged.err, "");
  EXPECT_TRUE(contains(merged.out, "leakguard: 2 tests failed of 3 checked, in 3 test runs\n")) << merged.out;
  EXPECT_TRUE(contains(merged.out, "\nSites (growth summed over the failing tests, largest first):\n  +256.0 KiB +1 block  ")) << merged.out;
  EXPECT_TRUE(contains(merged.out, "sample_tests.cpp:" + leak_line + "  char* buffer = new char[256 * 1024];")) << merged.out;
  EXPECT_TRUE(contains(merged.out, "      in sample_tests: Sample.LeaksABuffer\n")) << merged.out;
  EXPECT_TRUE(contains(merged.out, "      in sample_tests: Sample.LeaksASmallObject\n")) << merged.out;
  EXPECT_TRUE(contains(merged.out, "\nFailures:\n")) << merged.out;
  EXPECT_TRUE(contains(merged.out, "sample_tests: Sample.LeaksABuffer (")) << merged.out;
  EXPECT_TRUE(contains(merged.out, "sample_tests.cpp:" + leak_line + ")\nleakguard: leak: +256.0 KiB in +1 block\n"))
      << merged.out;
  EXPECT_TRUE(contains(merged.out, "at (anonymous namespace)::lose_a_buffer()")) << merged.out;
  EXPECT_FALSE(contains(merged.out, "Sample.CleansUp")) << merged.out;

  const CliRun json = cli("merge --format json " + dir);
  EXPECT_EQ(json.exit_code, 1) << json.err;
  const nlohmann::json doc = nlohmann::json::parse(json.out);
  EXPECT_EQ(doc["runs"], 3);
  EXPECT_EQ(doc["tests_checked"], 3);
  EXPECT_EQ(doc["incomplete_runs"], 0);
  const std::set<std::string> failed(doc["failed_tests"].begin(), doc["failed_tests"].end());
  EXPECT_EQ(failed, (std::set<std::string>{"sample_tests: Sample.LeaksABuffer", "sample_tests: Sample.LeaksASmallObject"}));
  ASSERT_EQ(doc["sites"].size(), 2u);
  EXPECT_EQ(doc["sites"][0]["size_diff"], 256 * 1024);
  EXPECT_EQ(doc["sites"][0]["line"], std::atoi(leak_line.c_str()));

  const CliRun collapsed = cli("merge --format collapsed " + dir);
  EXPECT_TRUE(contains(collapsed.out, "(anonymous namespace)::lose_a_buffer() 262144\n")) << collapsed.out;
  lgtest::run_command("rm -rf '" + dir + "'");
}

TEST(Cli, APassingRunMergesToNoFailure) {
  const std::string dir = fresh_dir("clean");
  EXPECT_EQ(run_sample_test("Sample.CleansUp:Sample.FillsACache", "LEAKGUARD_REPORT_DIR=" + dir).exit_code, 0);
  const CliRun merged = cli("merge " + dir);
  EXPECT_EQ(merged.exit_code, 0) << merged.out << merged.err;
  EXPECT_EQ(merged.out, "leakguard: no test failed of 2 checked, in 1 test run\n");
  lgtest::run_command("rm -rf '" + dir + "'");
}

TEST(Cli, ReportModeRecordsWhatWouldFail) {
  const std::string dir = fresh_dir("report_mode");
  const auto run = lgtest::run_command(std::string(kCleanEnv) + " LEAKGUARD_MODE=report LEAKGUARD_REPORT_DIR=" + dir + " " +
                                       LEAKGUARD_SAMPLE_TESTS + " --gtest_filter=Sample.LeaksABuffer:Sample.CleansUp 2>&1");
  EXPECT_EQ(run.exit_code, 0) << "report mode passes\n" << run.output;
  const CliRun merged = cli("merge " + dir);
  EXPECT_EQ(merged.exit_code, 1) << merged.out << merged.err;
  EXPECT_TRUE(contains(merged.out, "leakguard: 1 test failed of 2 checked, in 1 test run\n")) << merged.out;
  EXPECT_TRUE(contains(merged.out, "      in sample_tests: Sample.LeaksABuffer\n")) << merged.out;
  lgtest::run_command("rm -rf '" + dir + "'");
}

TEST(Cli, ABadRunFileIsNamedAndTheOthersAreStillMerged) {
  const std::string dir = fresh_dir("bad");
  EXPECT_EQ(run_sample_test("Sample.LeaksABuffer", "LEAKGUARD_REPORT_DIR=" + dir).exit_code, 1);
  ASSERT_EQ(files_in(dir), 1u);
  std::ofstream(dir + "/broken.leakguard.jsonl") << "{\"leakguard_run\": 1, \"program\": ";
  std::ofstream(dir + "/foreign.leakguard.jsonl") << "{\"something\": 1}\n";
  lgtest::run_command("mkdir '" + dir + "/sub.leakguard.jsonl'");
  const CliRun merged = cli("merge " + dir + " " + dir + "/missing.leakguard.jsonl");
  EXPECT_EQ(merged.exit_code, 2) << "bad input: exit 2\n" << merged.out << merged.err;
  EXPECT_TRUE(contains(merged.err, "leakguard: run file '" + dir + "/broken.leakguard.jsonl': line 1, column 33: not JSON: "))
      << merged.err;
  EXPECT_TRUE(contains(merged.err, "leakguard: run file '" + dir +
                                       "/foreign.leakguard.jsonl': not a leakguard run file (line 1 has no \"leakguard_run\" key); skipped\n"))
      << merged.err;
  EXPECT_TRUE(contains(merged.err, "leakguard: cannot read run file '" + dir +
                                       "/missing.leakguard.jsonl': No such file or directory\n"))
      << merged.err;
  EXPECT_TRUE(contains(merged.err, "leakguard: cannot read run file '" + dir + "/sub.leakguard.jsonl': is a directory\n"))
      << merged.err;
  // Nothing readable is lost.
  EXPECT_TRUE(contains(merged.out, "leakguard: 1 test failed of 1 checked, in 1 test run\n")) << merged.out;
  EXPECT_TRUE(contains(merged.out, "sample_tests: Sample.LeaksABuffer (")) << merged.out;

  const std::string empty = fresh_dir("empty");
  const CliRun none = cli("merge " + empty);
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(none.err, "leakguard: no run files (*.leakguard.jsonl) in '" + empty +
                          "': were the tests run with LEAKGUARD_REPORT_DIR=" + empty + "?\n");
  const CliRun usage = cli("merge");
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_TRUE(contains(usage.err, "paths is required")) << usage.err;
  lgtest::run_command("rm -rf '" + dir + "' '" + empty + "'");
}

TEST(Cli, ARunThatCrashesKeepsWhatItFoundBeforeTheCrash) {
  const std::string dir = fresh_dir("crash");
  const auto run = run_sample_test("Sample.LeaksABuffer:Crash.AbortsTheRun", "LG_SAMPLE_CRASH=1 LEAKGUARD_REPORT_DIR=" + dir);
  EXPECT_NE(run.exit_code, 0) << run.output;
  ASSERT_EQ(files_in(dir), 1u) << run.output;
  const std::string content = lgtest::run_command("cat " + dir + "/*.leakguard.jsonl").output;
  EXPECT_EQ(lgtest::count(content, "\n"), 3u) << "header, checked, failure; no complete line:\n" << content;
  EXPECT_TRUE(contains(content, "{\"checked\":[\"Sample.LeaksABuffer\"]}\n")) << content;
  EXPECT_FALSE(contains(content, "complete")) << content;
  const CliRun merged = cli("merge " + dir);
  EXPECT_EQ(merged.exit_code, 1) << merged.err;
  EXPECT_TRUE(contains(merged.out, "leakguard: 1 test failed of 1 checked, in 1 test run (1 run did not reach its "
                                   "end: crashed, killed or still running; what was written is counted)\n"))
      << merged.out;
  lgtest::run_command("rm -rf '" + dir + "'");
}

TEST(Cli, TheReportDirFlagAndAnUnusableDirectory) {
  const std::string dir = fresh_dir("flag");
  const auto flagged = run_sample_test("Sample.LeaksABuffer --leakguard_report_dir=" + dir + "/runs", "");
  EXPECT_EQ(flagged.exit_code, 1) << flagged.output;
  EXPECT_EQ(files_in(dir + "/runs"), 1u) << "the directory is created";
  // A relative directory is made absolute at the start: a test that changes directory writes on.
  const auto relative = lgtest::run_command("cd '" + dir + "' && " + kCleanEnv + " LEAKGUARD_REPORT_DIR=rel " +
                                            LEAKGUARD_SAMPLE_TESTS + " --gtest_filter=Sample.CleansUp 2>&1");
  EXPECT_EQ(relative.exit_code, 0) << relative.output;
  EXPECT_EQ(files_in(dir + "/rel"), 1u);
  // A regular file where the directory should be: said once, and the tests run as before.
  std::ofstream(dir + "/plain") << "x";
  const auto bad = run_sample_test("Sample.CleansUp:Sample.LeaksABuffer", "LEAKGUARD_REPORT_DIR=" + dir + "/plain");
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_EQ(lgtest::count(bad.output, "leakguard: run file: " + dir + "/plain: Not a directory; no run file is written\n"), 1u)
      << bad.output;
  EXPECT_TRUE(contains(bad.output, "leakguard: leak: +256.0 KiB in +1 block\n")) << bad.output;
  lgtest::run_command("rm -rf '" + dir + "'");
}

TEST(Cli, RepeatedRunsAndTwoFindingsOfOneLeakAreNotAddedUp) {
  const std::string dir = fresh_dir("repeat");
  const auto run = run_sample_test("Sample.LeaksABuffer:Sample.CleansUp --gtest_repeat=3",
                                   "LEAKGUARD_NET_BUDGET=100 LEAKGUARD_REPORT_DIR=" + dir);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  const CliRun merged = cli("merge --format json " + dir);
  const nlohmann::json doc = nlohmann::json::parse(merged.out);
  EXPECT_EQ(doc["tests_checked"], 2) << "each test once, however many times it ran";
  EXPECT_EQ(doc["failed_tests"].size(), 1u);
  ASSERT_EQ(doc["sites"].size(), 1u);
  EXPECT_EQ(doc["sites"][0]["size_diff"], 256 * 1024) << "one leak, found as a leak and over the budget, 3 times";
  EXPECT_GE(doc["failures"].size(), 6u) << "a leak and a budget failure in each of the 3 runs";
  lgtest::run_command("rm -rf '" + dir + "'");
}

TEST(Cli, DeathTestChildrenWriteNoRunOfTheirOwn) {
  for (const char* style : {"fast", "threadsafe"}) {
    const std::string dir = fresh_dir(std::string("death_") + style);
    const auto run = run_sample_test(std::string("Edge.DiesInAChildThatLeaks --gtest_death_test_style=") + style,
                                     "LEAKGUARD_REPORT_DIR=" + dir);
    EXPECT_EQ(run.exit_code, 0) << style << "\n" << run.output;
    EXPECT_EQ(files_in(dir), 1u) << style;
    const CliRun merged = cli("merge " + dir);
    EXPECT_EQ(merged.exit_code, 0) << style << "\n" << merged.out << merged.err;
    EXPECT_EQ(merged.out, "leakguard: no test failed of 1 checked, in 1 test run\n") << style;
    lgtest::run_command("rm -rf '" + dir + "'");
  }
}

TEST(Cli, AProgramWhosePathIsNotUtf8StillReportsAndRecords) {
  const std::string dir = fresh_dir("utf8");
  const std::string odd = dir + "/caf\xe9";
  lgtest::run_command("mkdir -p '" + odd + "' && cp " + std::string(LEAKGUARD_SAMPLE_TESTS) + " '" + odd + "/'");
  const auto run = lgtest::run_command(std::string(kCleanEnv) + " LEAKGUARD_REPORT_DIR=" + dir + "/runs '" + odd +
                                       "/sample_tests' --gtest_filter=Sample.LeaksABuffer:Sample.CleansUp 2>&1");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(contains(run.output, "leakguard: leak: +256.0 KiB in +1 block\n")) << run.output;
  EXPECT_TRUE(contains(run.output, "[  PASSED  ] 1 test.")) << "the run went on\n" << run.output;
  const CliRun merged = cli("merge " + dir + "/runs");
  EXPECT_EQ(merged.exit_code, 1) << merged.err;
  EXPECT_TRUE(contains(merged.out, "leakguard: 1 test failed of 2 checked, in 1 test run\n")) << merged.out;
  lgtest::run_command("rm -rf '" + dir + "'");
}

TEST(Cli, ARunFileCutShortIsNamedAndItsWholeLinesMerged) {
  const std::string dir = fresh_dir("cut");
  EXPECT_EQ(run_sample_test("Sample.LeaksABuffer:Sample.LeaksASmallObject", "LEAKGUARD_REPORT_DIR=" + dir).exit_code, 1);
  const std::string file = lgtest::run_command("ls " + dir + "/*.leakguard.jsonl | tr -d '\\n'").output;
  // Without its complete line and half of the second failure's, as if the process died writing it.
  // Lines: the header, then for each failing test its "checked" line and its failure.
  lgtest::run_command("head -n 4 '" + file + "' > " + dir + "/x && tail -n +5 '" + file +
                      "' | head -n 1 | head -c 100 >> " + dir + "/x && mv " + dir + "/x '" + file + "'");
  const CliRun merged = cli("merge " + dir);
  EXPECT_EQ(merged.exit_code, 2) << merged.out << merged.err;
  EXPECT_EQ(merged.err, "leakguard: run file '" + file +
                            "': line 5 is cut short (its process ended while writing it); the lines before it are merged\n");
  EXPECT_TRUE(contains(merged.out, "leakguard: 1 test failed of 2 checked, in 1 test run (1 run did not reach its end")) << merged.out;
  EXPECT_TRUE(contains(merged.out, "sample_tests: Sample.LeaksABuffer (")) << merged.out;
  lgtest::run_command("rm -rf '" + dir + "'");
}

TEST(Cli, ListingTheTestsWritesNoRunFile) {
  const std::string dir = fresh_dir("listing");
  const auto run = lgtest::run_command(std::string(kCleanEnv) + " LEAKGUARD_REPORT_DIR=" + dir + " " +
                                       LEAKGUARD_SAMPLE_TESTS + " --gtest_list_tests 2>&1");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(files_in(dir), 0u) << "test discovery is no run that never finished";
  lgtest::run_command("rm -rf '" + dir + "'");
}

#ifdef LEAKGUARD_CATCH2_SAMPLE
lgtest::CommandRun run_catch2(const std::string& env, const std::string& spec) {
  return lgtest::run_command(std::string(kCleanEnv) + " " + env + " " + LEAKGUARD_CATCH2_SAMPLE + " '" + spec + "' 2>&1");
}

TEST(Cli, ACatch2RunThatCrashesIsNotComplete) {
  const std::string dir = fresh_dir("catch2_crash");
  const auto run = run_catch2("LG_SAMPLE_CRASH=1 LEAKGUARD_REPORT_DIR=" + dir, "a section leaks,the run crashes");
  EXPECT_NE(run.exit_code, 0) << run.output;
  const std::string content = lgtest::run_command("cat " + dir + "/*.leakguard.jsonl").output;
  EXPECT_TRUE(contains(content, "{\"failure\":")) << content;
  EXPECT_FALSE(contains(content, "complete")) << "Catch2 ends the run from its signal handler\n" << content;
  const CliRun merged = cli("merge " + dir);
  EXPECT_TRUE(contains(merged.out, "(1 run did not reach its end")) << merged.out;
  lgtest::run_command("rm -rf '" + dir + "'");
}

TEST(Cli, Catch2StatementFailuresAreNamedByCaseAndSection) {
  const std::string dir = fresh_dir("catch2_names");
  const auto run = run_catch2("LEAKGUARD_REPORT_DIR=" + dir, "[runfile]");
  EXPECT_NE(run.exit_code, 0) << run.output;
  const CliRun merged = cli("merge --format json " + dir);
  const nlohmann::json doc = nlohmann::json::parse(merged.out);
  const std::set<std::string> failed(doc["failed_tests"].begin(), doc["failed_tests"].end());
  EXPECT_EQ(failed, (std::set<std::string>{"catch2_sample: a statement leaks in a section (section \"inner\")",
                                           "catch2_sample: a statement leaks in an opted-out case"}))
      << merged.out;
  lgtest::run_command("rm -rf '" + dir + "'");
}

TEST(Cli, Catch2RunFilesNameTheTestCaseAndSection) {
  const std::string dir = fresh_dir("catch2");
  const auto run = run_catch2("LEAKGUARD_REPORT_DIR=" + dir, "a section leaks");
  EXPECT_NE(run.exit_code, 0) << run.output;
  const CliRun merged = cli("merge " + dir);
  EXPECT_EQ(merged.exit_code, 1) << merged.out << merged.err;
  EXPECT_TRUE(contains(merged.out, "leakguard: 1 test failed of ")) << merged.out;
  EXPECT_TRUE(contains(merged.out, "in catch2_sample: a section leaks (section \"leaks\")\n")) << merged.out;
  EXPECT_TRUE(contains(merged.out, "char* lost = new char[200 * 1024];")) << merged.out;
  lgtest::run_command("rm -rf '" + dir + "'");
}
#endif

TEST(Cli, StatsAndDiffReadSnapshotFilesOfAnotherProcess) {
  if (!leakguard::is_tracing()) leakguard::start(8);
  const std::string dir = fresh_dir("snap");
  std::vector<void*> kept;
  kept.reserve(8);  // its own line: the vector's storage is not counted with the blocks below
  for (int i = 0; i < 3; ++i) kept.push_back(std::malloc(5000));
  const int first_line = __LINE__ - 1;
  leakguard::take_snapshot().dump(dir + "/a.snap");
  for (int i = 0; i < 2; ++i) kept.push_back(std::malloc(7000));
  const int second_line = __LINE__ - 1;
  leakguard::take_snapshot().dump(dir + "/b.snap");
  for (void* p : kept) std::free(p);

  const CliRun stats = cli("stats " + dir + "/a.snap --limit 0");
  EXPECT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_TRUE(contains(stats.out, "All by lineno of " + dir + "/a.snap\n")) << stats.out;
  EXPECT_TRUE(contains(stats.out, "test_cli.cpp:" + std::to_string(first_line) + ": size=14.6 KiB, count=3, average=5000 B\n"))
      << stats.out;
  EXPECT_TRUE(contains(stats.out, "\nTotal: ")) << stats.out;

  const CliRun diff = cli("diff " + dir + "/a.snap " + dir + "/b.snap --limit 1");
  EXPECT_EQ(diff.exit_code, 0) << diff.err;
  EXPECT_TRUE(contains(diff.out, "#1: ")) << diff.out;
  EXPECT_TRUE(contains(diff.out, "test_cli.cpp:" + std::to_string(second_line) +
                                     ": size=13.7 KiB (+13.7 KiB), count=2 (+2), average=7000 B\n"))
      << diff.out;
  EXPECT_FALSE(contains(diff.out, "#2: ")) << diff.out;
  const CliRun tb = cli("stats " + dir + "/a.snap --key traceback --limit 0");
  EXPECT_TRUE(contains(tb.out, "in (anonymous namespace)::Cli_StatsAndDiffReadSnapshotFilesOfAnotherProcess_Test::TestBody()")) << tb.out;

  // A damaged file: named, with the problem, exit 2.
  lgtest::run_command("head -c 40 " + dir + "/a.snap > " + dir + "/cut.snap");
  const CliRun cut = cli("stats " + dir + "/cut.snap");
  EXPECT_EQ(cut.exit_code, 2);
  EXPECT_TRUE(contains(cut.err, dir + "/cut.snap")) << cut.err;
  EXPECT_EQ(cut.out, "");
  const CliRun on_dir = cli("stats " + dir);
  EXPECT_EQ(on_dir.exit_code, 2);
  EXPECT_EQ(on_dir.err, "leakguard: snapshot '" + dir + "': is a directory, not a snapshot file\n");
  EXPECT_EQ(cli("diff " + dir + " " + dir + "/a.snap").exit_code, 2);
  const CliRun badkey = cli("stats " + dir + "/a.snap --key size");
  EXPECT_EQ(badkey.exit_code, 2);
  EXPECT_TRUE(contains(badkey.err, "--key")) << badkey.err;
  lgtest::run_command("rm -rf '" + dir + "'");
}

TEST(Cli, ShowPrintsAReportFile) {
  const std::string dir = fresh_dir("show");
  leakguard::Report r;
  r.what = "leak";
  r.total_bytes = 64;
  r.total_blocks = 1;
  leakguard::Frame f;
  f.function = "make_widget()";
  f.filename = "/src/widget.cpp";
  f.lineno = 12;
  f.module = "/bin/app";
  r.sites.push_back(leakguard::ReportSite{64, 1, 64, 1, leakguard::Traceback({f}, 1)});
  std::ofstream(dir + "/r.json") << leakguard::to_json(r);
  const CliRun shown = cli("show " + dir + "/r.json");
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_EQ(shown.out, "leakguard: leak: +64 B in +1 block\n  +64 B +1 block  /src/widget.cpp:12\n"
                       "      at make_widget() /src/widget.cpp:12\n");
  EXPECT_EQ(cli("show --format collapsed " + dir + "/r.json").out, "make_widget() 64\n");
  EXPECT_EQ(cli("show " + dir).err, "leakguard: cannot read report file '" + dir + "': is a directory\n");
  std::ofstream(dir + "/bad.json") << "[1, 2]";
  const CliRun bad = cli("show " + dir + "/bad.json");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err, "leakguard: report '" + dir + "/bad.json': not a leakguard report (no \"leakguard_report\" key)\n");
  lgtest::run_command("rm -rf '" + dir + "'");
}

}  // namespace
