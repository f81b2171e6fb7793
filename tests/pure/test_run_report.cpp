// Run files and their merge (run_report.hpp) on hand-built runs: what a file keeps, what a bad
// file's error names, how sites of several tests add up, and the merged text.
#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "leakguard/run_report.hpp"

namespace leakguard {
namespace {

Frame frame(const std::string& function, const std::string& file, int line, std::uintptr_t offset = 0x10) {
  Frame f;
  f.function = function;
  f.filename = file;
  f.lineno = line;
  f.module = "/bin/tests";
  f.module_offset = offset;
  return f;
}

Report leak(std::int64_t bytes, std::int64_t blocks, std::vector<Frame> frames) {
  Report r;
  r.what = "leak";
  r.total_bytes = bytes;
  r.total_blocks = blocks;
  const std::size_t n = frames.size();
  r.sites.push_back(ReportSite{bytes, blocks, static_cast<std::size_t>(bytes), static_cast<std::size_t>(blocks),
                               Traceback(std::move(frames), n)});
  return r;
}

RunReport sample_run() {
  RunReport run;
  run.program = "/build/tests/cache_tests";
  run.pid = 4242;
  run.complete = true;
  run.tests_checked = {"Cache.Grows", "Cache.Adds", "Cache.Hits", "Cache.Misses", "Cache.Trims", "Cache.Clears",
                       "Cache.Moves"};
  run.failures.push_back(RunFailure{"Cache.Grows", "/src/cache.cpp", 42,
                                    leak(4096, 2, {frame("Cache::grow()", "/src/cache.cpp", 42),
                                                   frame("Cache_Grows_Test::TestBody()", "/t/cache_test.cpp", 9)})});
  Report budget = leak(100, 1, {frame("Cache::add(int)", "/src/cache.cpp", 17)});
  budget.what = "net growth over the test's budget";
  budget.budget = 64;
  run.failures.push_back(RunFailure{"Cache.Adds", "", 0, budget});
  return run;
}

TEST(RunReport, AFileKeepsEveryField) {
  const RunReport run = sample_run();
  const std::string text = to_run_file(run);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 5) << "header, checked, 2 failures, complete:\n" << text;
  const RunReport back = run_report_from_file(text, "cache.jsonl");
  EXPECT_EQ(back.program, run.program);
  EXPECT_EQ(back.pid, 4242);
  EXPECT_TRUE(back.complete);
  EXPECT_EQ(back.tests_checked, run.tests_checked);
  EXPECT_EQ(back.cut_short_line, 0);
  ASSERT_EQ(back.failures.size(), 2u);
  EXPECT_EQ(back.failures[0].test, "Cache.Grows");
  EXPECT_EQ(back.failures[0].file, "/src/cache.cpp");
  EXPECT_EQ(back.failures[0].line, 42);
  EXPECT_EQ(back.failures[0].report.total_bytes, 4096);
  ASSERT_EQ(back.failures[0].report.sites.size(), 1u);
  EXPECT_EQ(back.failures[0].report.sites[0].traceback, run.failures[0].report.sites[0].traceback);
  EXPECT_EQ(back.failures[1].file, "");
  ASSERT_TRUE(back.failures[1].report.budget.has_value());
  EXPECT_EQ(*back.failures[1].report.budget, 64);
  EXPECT_EQ(back.failures[1].report.what, "net growth over the test's budget");
}

TEST(RunReport, TextThatIsNotUtf8IsWrittenNotThrown) {
  RunReport run = sample_run();
  run.program = "/build/caf\xe9/tests";
  run.failures[0].test = "Caf\xe9.Grows";
  std::string text;
  ASSERT_NO_THROW(text = to_run_file(run));
  const RunReport back = run_report_from_file(text, "x");
  EXPECT_EQ(back.program, "/build/caf\xef\xbf\xbd/tests") << "the bad byte becomes U+FFFD";
  EXPECT_EQ(back.failures[0].test, "Caf\xef\xbf\xbd.Grows");
}

TEST(RunReport, ARunCutShortKeepsTheLinesBeforeTheCut) {
  RunReport run = sample_run();
  run.complete = false;
  const std::string whole = to_run_file(run);
  const std::string cut = whole.substr(0, whole.size() - 40);  // the last failure's line, half written
  const RunReport back = run_report_from_file(cut, "x");
  EXPECT_FALSE(back.complete);
  EXPECT_EQ(back.cut_short_line, 4);
  ASSERT_EQ(back.failures.size(), 1u);
  EXPECT_EQ(back.failures[0].test, "Cache.Grows");
  EXPECT_EQ(back.tests_checked.size(), 7u);
}

std::string error_of(const std::string& text) {
  try {
    run_report_from_file(text, "runs/x.leakguard.jsonl");
  } catch (const ReportError& e) {
    return e.what();
  }
  return "(no error)";
}

// The sample run's lines, with line `n` (1-based) replaced.
std::string with_line(std::size_t n, const std::string& replacement) {
  std::string text = to_run_file(sample_run());
  std::size_t begin = 0;
  for (std::size_t i = 1; i < n; ++i) begin = text.find('\n', begin) + 1;
  const std::size_t end = text.find('\n', begin);
  return text.replace(begin, end - begin, replacement);
}

TEST(RunReport, ABadFileIsNamedWithTheProblemsLineAndPlace) {
  const std::string prefix = "leakguard: run file 'runs/x.leakguard.jsonl': ";
  EXPECT_EQ(error_of(""), prefix + "empty file: not a leakguard run file");
  EXPECT_EQ(error_of("{\"leakguard_report\": 1}\n"),
            prefix + "not a leakguard run file (line 1 has no \"leakguard_run\" key)");
  EXPECT_EQ(error_of(with_line(1, "{\"leakguard_run\": 2, \"program\": \"p\", \"pid\": 1}")),
            prefix + "run file schema version 2; this leakguard reads version 1");
  EXPECT_EQ(error_of(with_line(1, "{\"leakguard_run\": 1, \"program\": \"p\", \"pid\": -4}")),
            prefix + "line 1.pid is -4, expected 0 to 9223372036854775807");
  EXPECT_EQ(error_of(with_line(3, "{\"failure\": {\"test\": \"T\", \"file\": \"\", \"line\": 99999999999, \"report\": {}}}")),
            prefix + "line 3: failure.line is 99999999999, expected 0 to 2147483647");
  EXPECT_EQ(error_of(with_line(3, "{\"failure\": {\"test\": \"T\", \"file\": \"\", \"line\": 1, \"report\": {}}}")),
            prefix + "line 3: failure.report is not a leakguard report (no \"leakguard_report\" key)");
  const std::string text = to_run_file(sample_run());
  const std::size_t third = text.find("{\"failure\"");
  nlohmann::json doc = nlohmann::json::parse(text.substr(third, text.find('\n', third) - third));
  doc["failure"]["report"]["sites"][0].erase("frames");
  EXPECT_EQ(error_of(with_line(3, doc.dump())), prefix + "line 3: failure.report.sites[0] has no \"frames\"");
  EXPECT_NE(error_of(with_line(2, "{\"checked\": [\"A\", ")).find(prefix + "line 2, column 19: not JSON: syntax error"),
            std::string::npos)
      << "a bad line that is not the last is an error, not a cut: " << error_of(with_line(2, "{\"checked\": [\"A\", "));
  EXPECT_EQ(error_of(with_line(2, "{\"checked\": [\"A\"], \"complete\": true}")),
            prefix + "line 2 has 2 members; a line holds one");
  EXPECT_EQ(error_of(with_line(1, "{\"leakguard_run\": 4294967297, \"program\": \"p\", \"pid\": 1}")),
            prefix + "line 1.leakguard_run is 4294967297, expected 0 to 2147483647");
  EXPECT_EQ(error_of(with_line(2, "{\"checked\": [\"A\", 7]}")), prefix + "line 2: checked[1] is number, expected a string");
  EXPECT_EQ(error_of(with_line(2, "{\"other\": 1}")), prefix + "line 2 has none of \"checked\", \"failure\" or \"complete\"");
  EXPECT_EQ(error_of(with_line(2, "")), prefix + "line 2 is empty");
  EXPECT_EQ(error_of(with_line(5, "{\"complete\": false}")),
            prefix + "line 5: complete is false; a run that has not ended has no such line");
  EXPECT_EQ(error_of(to_run_file(sample_run()) + "{\"checked\": [\"Late\"]}\n"),
            prefix + "line 6 follows the line that says the run is complete");
}

TEST(MergeRuns, SitesAddUpOverTestsAndBinariesByTheirSourceLine) {
  RunReport a = sample_run();
  RunReport b;
  b.program = "/build/tests/other_tests";
  b.pid = 7;
  b.complete = false;
  b.tests_checked = {"Other.A", "Other.B", "Other.C"};
  // The same line reached from another binary (another module offset) and another test.
  Report r = leak(1000, 1, {frame("Cache::grow()", "/src/cache.cpp", 42, 0x999)});
  // A site that shrank in the same failure does not count toward any site.
  r.sites.push_back(ReportSite{-50, -1, 0, 0, Traceback({frame("Cache::trim()", "/src/cache.cpp", 60)}, 1)});
  b.failures.push_back(RunFailure{"Other.Grows", "/src/cache.cpp", 42, r});
  b.failures.push_back(RunFailure{"Other.Grows", "", 0, leak(8, 1, {frame("f()", "/src/f.cpp", 3)})});

  const MergedRuns m = merge_runs({a, b});
  EXPECT_EQ(m.runs, 2u);
  EXPECT_EQ(m.incomplete_runs, 1u);
  EXPECT_EQ(m.tests_checked, 11u) << "7, and 3 + Other.Grows: a failing test counts as checked";
  EXPECT_EQ(m.failed_tests, (std::vector<std::string>{"cache_tests: Cache.Grows", "cache_tests: Cache.Adds",
                                                      "other_tests: Other.Grows"}));
  ASSERT_EQ(m.sites.size(), 3u);
  EXPECT_EQ(m.sites[0].at.filename, "/src/cache.cpp");
  EXPECT_EQ(m.sites[0].at.lineno, 42);
  EXPECT_EQ(m.sites[0].size_diff, 4096 + 1000);
  EXPECT_EQ(m.sites[0].count_diff, 3);
  EXPECT_EQ(m.sites[0].tests, (std::vector<std::string>{"cache_tests: Cache.Grows", "other_tests: Other.Grows"}));
  EXPECT_EQ(m.sites[1].at.lineno, 17);
  EXPECT_EQ(m.sites[2].at.filename, "/src/f.cpp");
  ASSERT_EQ(m.failures.size(), 4u);
  EXPECT_EQ(m.failures[2].test, "other_tests: Other.Grows");

  const nlohmann::json j = nlohmann::json::parse(to_json(m));
  EXPECT_EQ(j["leakguard_merged"], 1);
  EXPECT_EQ(j["tests_checked"], 11);
  EXPECT_EQ(j["incomplete_runs"], 1);
  EXPECT_EQ(j["sites"][0]["size_diff"], 5096);
  EXPECT_EQ(j["sites"][0]["line"], 42);
  EXPECT_EQ(j["sites"][0]["tests"].size(), 2u);
  EXPECT_EQ(j["failures"].size(), 4u);
  EXPECT_EQ(j["failures"][3]["report"]["total_bytes"], 8);
}

TEST(MergeRuns, ASiteCountsOncePerTestHoweverManyOfItsFailuresShowIt) {
  RunReport run;
  run.program = "/build/tests/cache_tests";
  run.tests_checked = {"Cache.Grows"};
  const Report leaked = leak(256, 1, {frame("Cache::grow()", "/src/cache.cpp", 42)});
  Report over = leaked;  // the same blocks also broke the net budget
  over.what = "net growth over the test's budget";
  over.budget = 100;
  run.failures = {RunFailure{"Cache.Grows", "", 0, leaked}, RunFailure{"Cache.Grows", "", 0, over},
                  // and again in a repeated run of the suite, a little more that time
                  RunFailure{"Cache.Grows", "", 0, leak(300, 2, {frame("Cache::grow()", "/src/cache.cpp", 42)})}};
  const MergedRuns m = merge_runs({run, run});
  ASSERT_EQ(m.sites.size(), 1u);
  EXPECT_EQ(m.sites[0].size_diff, 2 * 300) << "the largest per test and run file, summed over the two files";
  EXPECT_EQ(m.sites[0].count_diff, 2 * 2);
  EXPECT_EQ(m.sites[0].tests, (std::vector<std::string>{"cache_tests: Cache.Grows"}));
  EXPECT_EQ(m.failed_tests.size(), 1u);
  EXPECT_EQ(m.failures.size(), 6u) << "every failure is still listed";
  EXPECT_EQ(m.tests_checked, 2u);
}

TEST(MergeRuns, TheMergedTextNamesEachFailingTestAndItsSites) {
  RunReport run = sample_run();
  run.failures.pop_back();
  EXPECT_EQ(format_text(merge_runs({run})),
            "leakguard: 1 test failed of 7 checked, in 1 test run\n"
            "\n"
            "Sites (growth summed over the failing tests, largest first):\n"
            "  +4.0 KiB +2 blocks  /src/cache.cpp:42\n"
            "      in cache_tests: Cache.Grows\n"
            "\n"
            "Failures:\n"
            "cache_tests: Cache.Grows (/src/cache.cpp:42)\n"
            "leakguard: leak: +4.0 KiB in +2 blocks\n"
            "  +4.0 KiB +2 blocks  /src/cache.cpp:42\n"
            "      at Cache::grow() /src/cache.cpp:42\n"
            "      at Cache_Grows_Test::TestBody() /t/cache_test.cpp:9\n");
  RunReport clean;
  clean.program = "/build/tests/clean_tests";
  clean.tests_checked = {"Clean.One"};
  EXPECT_EQ(format_text(merge_runs({clean, clean})),
            "leakguard: no test failed of 2 checked, in 2 test runs (2 runs did not reach their end: crashed, killed or "
            "still running; what was written is counted)\n");
  EXPECT_EQ(format_text(merge_runs({})), "leakguard: no test failed of 0 checked, in 0 test runs\n");
}

}  // namespace
}  // namespace leakguard
