// Reports of a known leak: the exact text, JSON that parses back to the same numbers, and
// collapsed stacks that add up to the reported growth.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

using lgtest::keep;

std::vector<void*> g_kept;
int g_line_big = 0, g_line_small = 0, g_call_line = 0;

__attribute__((noinline)) void leak_some() {
  g_kept.push_back(std::malloc(4096)); g_line_big = __LINE__;
  g_kept.push_back(std::malloc(100)); g_line_small = __LINE__;
  g_kept.push_back(std::malloc(100));
}

struct Reports : ::testing::Test {
  leakguard::TraceScope scope{32};
  leakguard::Report report;
  void SetUp() override {
    g_kept.reserve(16);
    const auto before = lgtest::snapshot_of_file(__FILE__);
    leak_some(); g_call_line = __LINE__;
    const auto after = lgtest::snapshot_of_file(__FILE__);
    report = leakguard::growth_report(before, after, "leak");
  }
  void TearDown() override {
    for (void* p : g_kept) std::free(p);
    g_kept.clear();
  }
};

TEST_F(Reports, GrowthReportHasOneSitePerCallSiteLargestFirst) {
  EXPECT_EQ(report.what, "leak");
  EXPECT_EQ(report.total_bytes, 4096 + 200);
  EXPECT_EQ(report.total_blocks, 3);
  ASSERT_EQ(report.sites.size(), 3u);  // three call sites, three stacks
  EXPECT_EQ(report.sites[0].size_diff, 4096);
  EXPECT_EQ(report.sites[0].traceback.attribution_frame().lineno, g_line_big);
  EXPECT_EQ(report.sites[1].size_diff, 100);
  EXPECT_FALSE(report.budget.has_value());
}

std::map<std::string, std::vector<int>> g_map;
int g_map_line = 0;
__attribute__((noinline)) void remember(int i) {
  g_map["a key long enough to need the heap, number " + std::to_string(i)].push_back(i); g_map_line = __LINE__;
}

TEST(ReportSites, StacksThatDifferOnlyInsideTheRuntimeAreOneSite) {
  leakguard::TraceScope scope(32);
  const auto before = lgtest::snapshot_of_file(__FILE__);
  for (int i = 0; i < 5; ++i) remember(i);  // map nodes, key strings, vectors: several std:: paths
  const auto after = lgtest::snapshot_of_file(__FILE__);
  const auto by_stack = after.compare_to(before, leakguard::KeyType::kTraceback);
  const auto report = leakguard::growth_report(before, after, "growth");
  ASSERT_EQ(report.sites.size(), 1u) << leakguard::format_text(report);
  EXPECT_GT(std::count_if(by_stack.begin(), by_stack.end(), [](const auto& d) { return d.size_diff > 0; }), 1)
      << "the workload was meant to allocate through several distinct stacks";
  EXPECT_EQ(report.sites[0].traceback.attribution_frame().lineno, g_map_line);
  EXPECT_EQ(report.sites[0].count_diff, report.total_blocks);
  EXPECT_EQ(report.sites[0].size_diff, report.total_bytes);
  EXPECT_EQ(report.total_bytes, lgtest::total_size(after) - lgtest::total_size(before));
  g_map.clear();
}

TEST_F(Reports, TextReportExact) {
  leakguard::TextOptions options;
  options.max_sites = 2;
  options.max_frames = 2;
  const std::string file = __FILE__;
  const std::string text = leakguard::format_text(report, options);
  const std::string expected_head =
      "leakguard: leak: +4.2 KiB in +3 blocks\n"
      "  +4.0 KiB +1 block  " + file + ":" + std::to_string(g_line_big) +
      "  g_kept.push_back(std::malloc(4096)); g_line_big = __LINE__;\n"
      "      at (anonymous namespace)::leak_some() " + file + ":" + std::to_string(g_line_big) + "\n";
  EXPECT_EQ(text.substr(0, expected_head.size()), expected_head) << text;
  // Second frame: the caller's line; then the frame limit; then the sites beyond max_sites.
  EXPECT_NE(text.find(file + ":" + std::to_string(g_call_line) + "\n      ... "), std::string::npos) << text;
  EXPECT_NE(text.find(" more frames\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\n  ... 1 more sites: +100 B in +1 block\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("\033["), std::string::npos) << "no colour unless asked for";
  options.colour = true;
  EXPECT_NE(leakguard::format_text(report, options).find("\033[1;31mleakguard: leak\033[0m"), std::string::npos);
}

TEST_F(Reports, SystemFramesFoldIntoOneLine) {
  auto* s = new std::string;
  const auto before = leakguard::take_snapshot();
  s->append(5000, 'x');  // allocates inside libstdc++
  const auto after = leakguard::take_snapshot();
  const auto r = leakguard::growth_report(before, after, "growth");
  ASSERT_FALSE(r.sites.empty());
  leakguard::TextOptions options;
  options.max_sites = 1;
  const std::string text = leakguard::format_text(r, options);
  EXPECT_NE(text.find("      ... "), std::string::npos) << text;
  EXPECT_NE(text.find(" in system code: "), std::string::npos) << text;
  EXPECT_NE(text.find("libstdc++.so"), std::string::npos) << text;
  EXPECT_NE(text.find("SystemFramesFoldIntoOneLine"), std::string::npos) << "the test's own frame is listed\n" << text;
  delete s;
}

TEST_F(Reports, BudgetAppearsInTheHeader) {
  report.budget = 1024;
  report.what = "net growth over budget";
  EXPECT_EQ(leakguard::format_text(report).rfind("leakguard: net growth over budget: +4.2 KiB in +3 blocks (budget 1.0 KiB)\n", 0), 0u);
}

TEST_F(Reports, JsonParsesBackToTheSameNumbers) {
  report.budget = 512;
  const std::string json = leakguard::to_json(report);
  EXPECT_NE(json.find("\"leakguard_report\": 1"), std::string::npos) << json;
  const leakguard::Report back = leakguard::report_from_json(json);
  EXPECT_EQ(back.what, report.what);
  EXPECT_EQ(back.total_bytes, report.total_bytes);
  EXPECT_EQ(back.total_blocks, report.total_blocks);
  EXPECT_EQ(back.budget, report.budget);
  ASSERT_EQ(back.sites.size(), report.sites.size());
  for (std::size_t i = 0; i < back.sites.size(); ++i) {
    EXPECT_EQ(back.sites[i].size_diff, report.sites[i].size_diff);
    EXPECT_EQ(back.sites[i].count_diff, report.sites[i].count_diff);
    EXPECT_EQ(back.sites[i].size, report.sites[i].size);
    EXPECT_EQ(back.sites[i].count, report.sites[i].count);
    EXPECT_EQ(back.sites[i].traceback, report.sites[i].traceback);
  }
  EXPECT_EQ(leakguard::format_text(back), leakguard::format_text(report));
}

TEST(ReportJson, BadInputIsNamedWithItsProblem) {
  auto error = [](const std::string& json) {
    try {
      leakguard::report_from_json(json, "run.json");
    } catch (const leakguard::ReportError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(error("{\"leakguard_report\": 1").rfind("leakguard: report 'run.json': not JSON: ", 0), 0u);
  EXPECT_EQ(error("[1, 2]"), "leakguard: report 'run.json': not a leakguard report (no \"leakguard_report\" key)");
  EXPECT_EQ(error("{\"leakguard_report\": 2}"),
            "leakguard: report 'run.json': schema version 2; this leakguard reads version 1");
  EXPECT_EQ(error("{\"leakguard_report\": 1, \"what\": 5}"),
            "leakguard: report 'run.json': the report.what is number, expected a string");
  EXPECT_EQ(error("{\"leakguard_report\": 1, \"what\": \"leak\", \"total_bytes\": 1, \"total_blocks\": 1, "
                  "\"budget\": null, \"sites\": [{\"size_diff\": 1}]}"),
            "leakguard: report 'run.json': sites[0] has no \"count_diff\"");
  EXPECT_EQ(error("{\"leakguard_report\": 1, \"what\": \"leak\", \"total_bytes\": 1, \"total_blocks\": 1, "
                  "\"budget\": \"big\", \"sites\": []}"),
            "leakguard: report 'run.json': the report.budget is string, expected an integer or null");
}

TEST_F(Reports, CollapsedStacksAddUpToTheGrowth) {
  const std::string collapsed = leakguard::to_collapsed(report);
  std::istringstream in(collapsed);
  std::int64_t sum = 0;
  int lines = 0;
  for (std::string line; std::getline(in, line);) {
    ++lines;
    const auto space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos) << line;
    sum += std::stoll(line.substr(space + 1));
    // Outermost frame first, the allocating function last.
    const std::string stack = line.substr(0, space);
    EXPECT_NE(stack.rfind("leak_some()"), std::string::npos) << line;
    ASSERT_NE(stack.find("SetUp"), std::string::npos) << line;
    EXPECT_LT(stack.find("SetUp"), stack.rfind("leak_some()")) << line;
  }
  EXPECT_EQ(lines, 3);
  EXPECT_EQ(sum, report.total_bytes);
}

}  // namespace
