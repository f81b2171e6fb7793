// What one test process found, kept in a file for the `leakguard` command, which merges the files
// of a whole ctest run into one report.
//
// Set LEAKGUARD_REPORT_DIR=<dir> (or --leakguard_report_dir=<dir> for GoogleTest) and every test
// process with the GoogleTest or Catch2 plugin writes <dir>/<program>-<pid>.leakguard.json: the
// tests it checked and each failure with its report. The file is written when a test fails (so a
// run that crashes later keeps what it found) and when the run ends ("complete": true). Then
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

// One failure of one test: a leak, a budget exceeded, a statement assertion.
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
  std::size_t tests_checked = 0;
  std::vector<RunFailure> failures;
};

// JSON, schema version 1:
//   {"leakguard_run": 1, "program": str, "pid": int, "complete": bool, "tests_checked": int,
//    "failures": [{"test": str, "file": str, "line": int, "report": <to_json(Report)>}, ...]}
LEAKGUARD_API std::string to_json(const RunReport& run);
// Reads what to_json(RunReport) wrote; throws ReportError naming `source` and the problem.
LEAKGUARD_API RunReport run_report_from_json(const std::string& json, const std::string& source = "run");

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

// Only growth counts toward a site (a failure's shrinking sites are left out).
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
//    "size_diff": int, "count_diff": int, "tests": [str]}], "failures": [<as in a run file>]}
LEAKGUARD_API std::string to_json(const MergedRuns& merged);

}  // namespace leakguard
