// The lines of a run file (run_report.hpp), for the process that appends them one at a time.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "leakguard/run_report.hpp"

namespace leakguard::detail {

std::string run_header_line(const std::string& program, std::int64_t pid);
std::string run_checked_line(const std::vector<std::string>& tests);
std::string run_failure_line(const RunFailure& failure);
std::string run_complete_line();

}  // namespace leakguard::detail
