// This process's run file (run_report.hpp): what the test checks found, written to the directory
// LEAKGUARD_REPORT_DIR names, for the `leakguard merge` command.
#pragma once
#include <string>

#include "leakguard/report.hpp"

namespace leakguard::detail {

// Creates the run file in `dir` (created if missing) and writes its first line. Later calls change
// nothing: a process has one file. A problem (a directory that cannot be made, a full disk) is
// said once on stderr, and the tests run on without a file.
void run_file_open(const std::string& dir);
bool run_file_is_open();
// The test that later findings belong to.
void run_file_begin_test(const std::string& name);
// The current test was checked.
void run_file_count_checked();
// A failure of the current test, pointing at file:line ("": the report's first site); appended at
// once, so that a run which crashes later keeps it.
void run_file_add_failure(const std::string& file, int line, const Report& report);
// The run reached its end: the file's last line says so, and the file is closed.
void run_file_finish();

}  // namespace leakguard::detail
