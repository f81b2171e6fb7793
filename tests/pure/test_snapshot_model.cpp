// Snapshot statistics, compare_to and filters on hand-built traces, where every number is known.
#include <gtest/gtest.h>

#include "leakguard/snapshot.hpp"

namespace leakguard {
namespace {

Frame frame(const std::string& file, int line, const std::string& function) {
  Frame f;
  f.filename = file;
  f.lineno = line;
  f.function = function;
  f.module = "/bin/app";
  return f;
}

std::shared_ptr<const Traceback> tb(std::vector<Frame> frames) {
  const std::size_t n = frames.size();
  return std::make_shared<const Traceback>(std::move(frames), n);
}

struct Fixture : ::testing::Test {
  // a.cpp:10 <- main.cpp:5 and a.cpp:20 <- a.cpp:10... : two stacks sharing frames.
  std::shared_ptr<const Traceback> at_a10 = tb({frame("/src/a.cpp", 10, "f"), frame("/src/main.cpp", 5, "main")});
  std::shared_ptr<const Traceback> at_a20 = tb({frame("/src/a.cpp", 20, "g"), frame("/src/a.cpp", 10, "f"),
                                                frame("/src/main.cpp", 6, "main")});
  std::shared_ptr<const Traceback> at_b7 = tb({frame("/usr/include/c++/12/bits/new_allocator.h", 137, "allocate"),
                                               frame("/src/b.cpp", 7, "h")});
  Snapshot old_snap{{Trace{0, 100, at_a10}, Trace{0, 50, at_b7}}, 16};
  Snapshot new_snap{{Trace{0, 100, at_a10}, Trace{0, 300, at_a10}, Trace{0, 40, at_a20},
                     Trace{7, 1000, at_b7}}, 16};
};

TEST_F(Fixture, LinenoStatisticsGroupByAttributionFrameSortedBySizeThenCount) {
  const auto stats = new_snap.statistics("lineno");
  ASSERT_EQ(stats.size(), 3u);
  EXPECT_EQ(stats[0].str(), "/src/b.cpp:7: size=1000 B, count=1, average=1000 B");
  EXPECT_EQ(stats[1].str(), "/src/a.cpp:10: size=400 B, count=2, average=200 B");
  EXPECT_EQ(stats[2].str(), "/src/a.cpp:20: size=40 B, count=1, average=40 B");
}

TEST_F(Fixture, FilenameAndTracebackKeys) {
  const auto by_file = new_snap.statistics("filename");
  ASSERT_EQ(by_file.size(), 2u);
  EXPECT_EQ(by_file[0].traceback[0].filename, "/src/b.cpp");
  EXPECT_EQ(by_file[1].traceback[0].filename, "/src/a.cpp");
  EXPECT_EQ(by_file[1].size, 440u);
  EXPECT_EQ(by_file[1].count, 3u);

  const auto by_tb = new_snap.statistics(KeyType::kTraceback);
  ASSERT_EQ(by_tb.size(), 3u);
  EXPECT_EQ(by_tb[1].traceback, *at_a10);
  EXPECT_EQ(by_tb[1].size, 400u);
  EXPECT_THROW(new_snap.statistics(KeyType::kTraceback, true), std::invalid_argument);
  EXPECT_THROW(new_snap.statistics("lines"), std::invalid_argument);
}

TEST_F(Fixture, CumulativeCountsEachBlockOncePerDistinctFrame) {
  const auto stats = new_snap.statistics("filename", /*cumulative=*/true);
  // a.cpp appears twice in at_a20 but counts its block once.
  std::map<std::string, std::pair<std::size_t, std::size_t>> by_file;
  for (const auto& s : stats) by_file[s.traceback[0].filename] = {s.size, s.count};
  EXPECT_EQ(by_file["/src/a.cpp"], std::make_pair(std::size_t{440}, std::size_t{3}));
  EXPECT_EQ(by_file["/src/main.cpp"], std::make_pair(std::size_t{440}, std::size_t{3}));
  EXPECT_EQ(by_file["/src/b.cpp"], std::make_pair(std::size_t{1000}, std::size_t{1}));
  EXPECT_EQ(by_file["/usr/include/c++/12/bits/new_allocator.h"], std::make_pair(std::size_t{1000}, std::size_t{1}));
}

TEST_F(Fixture, CompareToGivesSizeAndCountDiffsLargestChangeFirst) {
  const auto diffs = new_snap.compare_to(old_snap, "lineno");
  ASSERT_EQ(diffs.size(), 3u);
  EXPECT_EQ(diffs[0].str(), "/src/b.cpp:7: size=1000 B (+950 B), count=1 (+0), average=1000 B");
  EXPECT_EQ(diffs[1].str(), "/src/a.cpp:10: size=400 B (+300 B), count=2 (+1), average=200 B");
  EXPECT_EQ(diffs[2].str(), "/src/a.cpp:20: size=40 B (+40 B), count=1 (+1), average=40 B");

  const auto back = old_snap.compare_to(new_snap, "lineno");
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[2].str(), "/src/a.cpp:20: size=0 B (-40 B), count=0 (-1)");
}

TEST_F(Fixture, FiltersKeepOrDropByFileLineDomainAndAnyFrame) {
  auto total = [](const Snapshot& s) {
    std::size_t n = 0;
    for (const auto& t : s.traces()) n += t.size;
    return n;
  };
  EXPECT_EQ(total(new_snap.filter_traces({Filter(true, "*/a.cpp")})), 440u);
  EXPECT_EQ(total(new_snap.filter_traces({Filter(false, "*/a.cpp")})), 1000u);
  EXPECT_EQ(total(new_snap.filter_traces({Filter(true, "*/a.cpp", 20)})), 40u);
  EXPECT_EQ(total(new_snap.filter_traces({Filter(true, "*/main.cpp")})), 0u);
  EXPECT_EQ(total(new_snap.filter_traces({Filter(true, "*/main.cpp", std::nullopt, true)})), 440u);
  EXPECT_EQ(total(new_snap.filter_traces({Filter(false, "*/main.cpp", 6, true)})), 1400u);
  EXPECT_EQ(total(new_snap.filter_traces({DomainFilter{true, 7}})), 1000u);
  EXPECT_EQ(total(new_snap.filter_traces({DomainFilter{false, 7}})), 440u);
  // Inclusive filters are OR-ed, exclusive ones AND-ed.
  EXPECT_EQ(total(new_snap.filter_traces({Filter(true, "*/a.cpp"), Filter(true, "*/b.cpp"),
                                          Filter(false, "*/a.cpp", 10)})),
            1040u);
  // A filter with a domain only judges traces of that domain.
  EXPECT_EQ(total(new_snap.filter_traces({Filter(false, "*/b.cpp", std::nullopt, false, 0)})), 1440u);
  EXPECT_EQ(new_snap.filter_traces({}).traces().size(), 4u);
}

}  // namespace
}  // namespace leakguard
