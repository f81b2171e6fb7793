// The per-test rule shared by the framework plugins.
#include "leakguard/test_check.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "core/tracer.hpp"
#include "snapshot/attribution_rule.hpp"

namespace leakguard {
namespace {

CheckMode read_mode() {
  const char* value = std::getenv("LEAKGUARD_MODE");
  if (value == nullptr || *value == '\0' || std::strcmp(value, "fail") == 0) return CheckMode::kFail;
  if (std::strcmp(value, "off") == 0) return CheckMode::kOff;
  if (std::strcmp(value, "report") == 0) return CheckMode::kReport;
  if (std::strcmp(value, "strict") == 0) return CheckMode::kStrict;
  std::fprintf(stderr, "leakguard: LEAKGUARD_MODE='%s' is not a mode (expected off, report, fail or strict); using fail\n",
               value);
  return CheckMode::kFail;
}

// A block the user's code asked for: some frame of its stack is not system code, and the C
// runtime or the loader did not allocate it for itself (a new thread's TLS vector, stdio buffers,
// locale and time-zone data, dlerror's message), even on the user's behalf.
bool users(const Survivor& s, const AttributionRule& rule) {
  if (s.traceback.empty() || rule.is_system(s.traceback.attribution_frame())) return false;
  const std::string& module = s.traceback[0].module;
  for (const char* runtime : {"/libc.so", "/libc-", "/ld-linux", "/libpthread", "/libdl."}) {
    if (module.find(runtime) != std::string::npos) return false;
  }
  return true;
}

TestVerdict judge(const Classification& found, CheckMode mode) {
  const auto rule = detail::current_attribution_rule();
  TestVerdict verdict;
  verdict.leaked_bytes = found.definite_bytes;
  verdict.leaked_blocks = found.definite_blocks;
  Classification shown;
  for (const Survivor& s : found.survivors) {
    if (s.kind != SurvivorKind::kHeld) {
      shown.survivors.push_back(s);
    } else if (users(s, *rule)) {
      verdict.held_bytes += s.size;
      ++verdict.held_blocks;
      if (mode == CheckMode::kStrict) {
        Survivor as_growth = s;
        as_growth.kind = SurvivorKind::kDirectLeak;  // strict: reachable growth counts too
        shown.survivors.push_back(as_growth);
      }
    }
  }
  verdict.report = leak_report(shown, mode == CheckMode::kStrict ? "growth (strict mode)" : "leak");
  verdict.failed = (mode == CheckMode::kFail || mode == CheckMode::kStrict) && !verdict.report.sites.empty();
  return verdict;
}

}  // namespace

CheckMode check_mode_from_environment() {
  static const CheckMode mode = read_mode();
  return mode;
}

TestVerdict finish_test_window(const Checkpoint& window, CheckMode mode) {
  if (mode == CheckMode::kOff) return {};
  detail::UntracedScope untraced;  // the verdict's own memory must not be judged on the retry
  TestVerdict verdict = judge(classify_survivors(window), mode);
  for (int wait_ms = 1; wait_ms <= 16 && !verdict.report.sites.empty(); wait_ms *= 2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    verdict = judge(classify_survivors(window), mode);
  }
  return verdict;
}

}  // namespace leakguard
