// Run files and their merge (run_report.hpp) on hand-built runs: what a file keeps, what a bad
// file's error names, how sites of several tests add up, and the merged text.
#include <gtest/gtest.h>

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
  run.tests_checked = 7;
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
  const RunReport back = run_report_from_json(to_json(run), "cache.json");
  EXPECT_EQ(back.program, run.program);
  EXPECT_EQ(back.pid, 4242);
  EXPECT_TRUE(back.complete);
  EXPECT_EQ(back.tests_checked, 7u);
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

std::string error_of(const std::string& text) {
  try {
    run_report_from_json(text, "runs/x.leakguard.json");
  } catch (const ReportError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(RunReport, ABadFileIsNamedWithTheProblemsPlace) {
  EXPECT_NE(error_of("{\"leakguard_run\": 1, ").find("leakguard: report 'runs/x.leakguard.json': not JSON: "),
            std::string::npos)
      << error_of("{\"leakguard_run\": 1, ");
  EXPECT_EQ(error_of("{\"leakguard_report\": 1}"),
            "leakguard: report 'runs/x.leakguard.json': not a leakguard run file (no \"leakguard_run\" key)");
  nlohmann::json doc = nlohmann::json::parse(to_json(sample_run()));
  doc["leakguard_run"] = 2;
  EXPECT_EQ(error_of(doc.dump()),
            "leakguard: report 'runs/x.leakguard.json': run file schema version 2; this leakguard reads version 1");
  doc = nlohmann::json::parse(to_json(sample_run()));
  doc["failures"][1]["report"]["sites"][0].erase("frames");
  EXPECT_EQ(error_of(doc.dump()),
            "leakguard: report 'runs/x.leakguard.json': failures[1].report.sites[0] has no \"frames\"");
  doc = nlohmann::json::parse(to_json(sample_run()));
  doc["failures"][0]["report"].erase("leakguard_report");
  EXPECT_EQ(error_of(doc.dump()), "leakguard: report 'runs/x.leakguard.json': failures[0].report is not a leakguard "
                                  "report (no \"leakguard_report\" key)");
  doc = nlohmann::json::parse(to_json(sample_run()));
  doc["tests_checked"] = -3;
  EXPECT_EQ(error_of(doc.dump()), "leakguard: report 'runs/x.leakguard.json': the run.tests_checked is negative");
  doc = nlohmann::json::parse(to_json(sample_run()));
  doc["complete"] = "yes";
  EXPECT_EQ(error_of(doc.dump()),
            "leakguard: report 'runs/x.leakguard.json': the run.complete is string, expected true or false");
  doc = nlohmann::json::parse(to_json(sample_run()));
  doc["failures"][0] = 5;
  EXPECT_EQ(error_of(doc.dump()), "leakguard: report 'runs/x.leakguard.json': failures[0] is number, expected an object");
}

TEST(MergeRuns, SitesAddUpOverTestsAndBinariesByTheirSourceLine) {
  RunReport a = sample_run();
  RunReport b;
  b.program = "/build/tests/other_tests";
  b.pid = 7;
  b.complete = false;
  b.tests_checked = 3;
  // The same line reached from another binary (another module offset) and another test.
  Report r = leak(1000, 1, {frame("Cache::grow()", "/src/cache.cpp", 42, 0x999)});
  // A site that shrank in the same failure does not count toward any site.
  r.sites.push_back(ReportSite{-50, -1, 0, 0, Traceback({frame("Cache::trim()", "/src/cache.cpp", 60)}, 1)});
  b.failures.push_back(RunFailure{"Other.Grows", "/src/cache.cpp", 42, r});
  b.failures.push_back(RunFailure{"Other.Grows", "", 0, leak(8, 1, {frame("f()", "/src/f.cpp", 3)})});

  const MergedRuns m = merge_runs({a, b});
  EXPECT_EQ(m.runs, 2u);
  EXPECT_EQ(m.incomplete_runs, 1u);
  EXPECT_EQ(m.tests_checked, 10u);
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
  EXPECT_EQ(j["tests_checked"], 10);
  EXPECT_EQ(j["incomplete_runs"], 1);
  EXPECT_EQ(j["sites"][0]["size_diff"], 5096);
  EXPECT_EQ(j["sites"][0]["line"], 42);
  EXPECT_EQ(j["sites"][0]["tests"].size(), 2u);
  EXPECT_EQ(j["failures"].size(), 4u);
  EXPECT_EQ(j["failures"][3]["report"]["total_bytes"], 8);
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
  clean.tests_checked = 1;
  EXPECT_EQ(format_text(merge_runs({clean, clean})),
            "leakguard: no test failed of 2 checked, in 2 test runs (2 runs did not reach their end: crashed, killed or "
            "still running; what was written is counted)\n");
  EXPECT_EQ(format_text(merge_runs({})), "leakguard: no test failed of 0 checked, in 0 test runs\n");
}

}  // namespace
}  // namespace leakguard
