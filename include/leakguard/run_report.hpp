// What one test process found, kept in a file for the `leakguard` command, which merges the files
// of a whole ctest run into one report.
//
// Set LEAKGUARD_REPORT_DIR=<dir> (or --leakguard_report_dir=<dir> for GoogleTest) and every test
// process with the GoogleTest or Catch2 plugin writes <dir>/<program>-<pid>.leakguard.jsonl: the
// tests it checked and each failure with its report. The file is created at the first test and
// appended to at each failure (so a run that crashes keeps what it found, and shows as not
// complete), every 32 passing tests, and at the run's end. A run that checks no test (one that
// lists its tests for discovery) writes none, nor does a fork child or a death test's child. Then
//   leakguard merge <dir>
// prints every failing test of the run and the allocation sites they share (leakguard --help).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "leakguard/export.hpp"
#include "leakguard/report.hpp"

namespace leakguard {

// One failure of one test: a leak, a budget exceeded, a statement assertion. In report mode, what
// would have failed.
struct RunFailure {
  std::string test;  // "Suite.Name"; Catch2: "test case" and its section path
  std::string file;  // where the failure points (the allocating line when known); may be ""
  int line = 0;
  Report report;
};

// The run file of one test process.
struct RunReport {
  std::string program;  // the executable's path
  std::int64_t pid = 0;
  bool complete = false;  // the run reached its end; false: it crashed, was killed, or still runs
  std::vector<std::string> tests_checked;  // each once, in the order first checked
  std::vector<RunFailure> failures;
  // The line number of a last line cut short (its process ended while writing it), or 0. The
  // lines before it are read; whatever it held is lost.
  int cut_short_line = 0;
};

// The run file: JSON Lines (one JSON object a line), schema version 1. The first line is
//   {"leakguard_run": 1, "program": str, "pid": int}
// and each further line one of
//   {"checked": [str, ...]}                   tests checked since the line before
//   {"failure": {"test": str, "file": str, "line": int, "report": <to_json(Report)>}}
//   {"complete": true}                        the last line of a run that reached its end
// Written a line at a time, so a file cut short by a crash loses at most its last line
// (cut_short_line).
LEAKGUARD_API std::string to_run_file(const RunReport& run);
// Reads a run file; throws ReportError naming `source`, the line and the problem.
LEAKGUARD_API RunReport run_report_from_file(const std::string& text, const std::string& source = "run");

// A site's growth summed over every failing test that has it.
struct MergedSite {
  Frame at;  // the attribution frame: sites are the same when these are (file, line, function)
  std::int64_t size_diff = 0;
  std::int64_t count_diff = 0;
  std::vector<std::string> tests;  // "program: Suite.Name" of the failing tests with it, in the order met
  Traceback traceback;             // the first failure's traceback for it
};

struct MergedRuns {
  std::size_t runs = 0;
  std::size_t incomplete_runs = 0;  // runs whose file says they did not reach their end
  std::size_t tests_checked = 0;
  std::vector<std::string> failed_tests;  // "program: Suite.Name", once each, in the order met
  std::vector<MergedSite> sites;          // largest growth first
  std::vector<RunFailure> failures;       // every failure; test is "program: Suite.Name"
};

// A site counts once per test and run file: its largest growth among that test's failures (a leak
// that also broke the net budget, or a test repeated with --gtest_repeat, is not added up again).
// Only growth counts (a failure's shrinking sites are left out). A failing test that was not
// itself checked (a statement assertion in an opted-out test) counts as checked.
LEAKGUARD_API MergedRuns merge_runs(const std::vector<RunReport>& runs);

// The merged report, for people:
//   leakguard: 2 tests failed of 41 checked, in 12 test runs
//
//   Sites (growth summed over the failing tests, largest first):
//     +4.0 KiB +2 blocks  src/cache.cpp:42  buffer = new char[2048];
//         in cache_tests: Cache.Grows, cache_tests: Cache.Shrinks
//
//   Failures:
//   cache_tests: Cache.Grows (src/cache.cpp:42)
//   <the test's report, as the test printed it>
//
//   <the next failure, and so on>
// With no failure the first line says so ("no test failed of 41 checked ...").
LEAKGUARD_API std::string format_text(const MergedRuns& merged, const TextOptions& options = {});
// JSON, schema version 1:
//   {"leakguard_merged": 1, "runs": int, "incomplete_runs": int, "tests_checked": int,
//    "failed_tests": [str], "sites": [{"function": str, "file": str, "line": int, "module": str,
//    "size_diff": int, "count_diff": int, "tests": [str]}],
//    "failures": [{"test": str, "file": str, "line": int, "report": <to_json(Report)>}]}
LEAKGUARD_API std::string to_json(const MergedRuns& merged);

}  // namespace leakguard
