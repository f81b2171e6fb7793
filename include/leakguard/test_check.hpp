// The per-test rule the framework plugins apply, shared so that GoogleTest and Catch2 behave the
// same: a test is a window (a Checkpoint), and at its end what survived is judged by the mode.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "leakguard/analysis.hpp"

#include "leakguard/classify.hpp"
#include "leakguard/export.hpp"
#include "leakguard/report.hpp"
#include "leakguard/snapshot.hpp"

namespace leakguard {

enum class CheckMode {
  kOff,     // no checks
  kReport,  // report leaks on stderr, fail nothing
  kFail,    // the default: definite leaks fail the test
  kStrict,  // any growth of the user's fails, reachable or not
};

// LEAKGUARD_MODE=off|report|fail|strict, read when first asked. Unset means fail; any other value
// is named on stderr and fail is used.
LEAKGUARD_API CheckMode check_mode_from_environment();
// "off", "report", "fail" or "strict"; false for anything else.
LEAKGUARD_API bool parse_check_mode(const char* text, CheckMode* mode);
// The mode in force, which the statement assertions follow: the environment's, unless a plugin
// set its command line's (the GoogleTest plugin's --leakguard_mode).
LEAKGUARD_API CheckMode check_mode();
LEAKGUARD_API void set_check_mode(CheckMode mode);

// The suppressions in force (suppressions.hpp): LEAKGUARD_SUPPRESSIONS's file, unless a plugin
// named another (--leakguard_suppressions). A file that cannot be read or parsed is named on
// stderr, with its line, and then no suppression applies.
LEAKGUARD_API void set_suppressions_file(const std::string& path);

struct TestVerdict {
  bool failed = false;  // by the mode's rule
  // What to show: the definite leaks; in strict mode every block of the user's still alive.
  Report report;
  // Every block of the user's still alive, lost or held: the run's growth, for the repeated-run
  // rule.
  Report growth;
  std::size_t leaked_bytes = 0;  // definite leaks
  std::size_t leaked_blocks = 0;
  // Blocks still reachable that the user's code allocated (caches, lazy statics). Never counted:
  // blocks of the runtime's own (every frame system code, attribution.hpp), of the test framework
  // (its frames count as system code once the plugin is installed), and what the C runtime or the
  // loader allocates for itself on the user's behalf (a new thread's TLS vector, stdio buffers).
  std::size_t held_bytes = 0;
  std::size_t held_blocks = 0;
};

// For the test running now, said from inside it: skip its check (it leaks on purpose, or its
// memory is not worth checking), or allow it up to `blocks` definite leaks (it fails with more;
// not "exactly", since a stale copy of a pointer can make a lost block look held). Both apply
// until the test's window is finished.
LEAKGUARD_API void skip_leak_check();
LEAKGUARD_API void expect_leaked_blocks(std::size_t blocks);

// The user's net growth from `before` to `after` (take_snapshot()): per allocating stack, the
// heap memory alive at the end minus that alive at the start, summed over the stacks of the
// user's code (the framework's, leakguard's and the runtime's own left out, as in a test's check).
// A run that replaces what the one before it made (a config object, a bounded cache's entry)
// grows by nothing. `report` lists the stacks that grew.
struct NetGrowth {
  std::int64_t bytes = 0;
  std::int64_t blocks = 0;
  Report report;
};
LEAKGUARD_API NetGrowth user_net_growth(const Snapshot& before, const Snapshot& after);

// The repeated-run rule (CPython's regrtest -R) for a test run several times: each run's net
// growth of the user's memory (user_net_growth), lost or still reachable, is recorded per test.
// After the warmup runs, a test that grew in every run leaks (a global container growing on every
// call); one that grew in some runs only is suspicious; a lazy static or a first-use cache grows
// in the warmup only and passes.
class LEAKGUARD_API RepeatedRuns {
 public:
  explicit RepeatedRuns(int warmup = 1) : warmup_(warmup) {}
  void record(const std::string& test, std::int64_t bytes, std::int64_t blocks);
  // Over the runs after the warmup; kNoLeak while there are none.
  LeakVerdict verdict(const std::string& test) const;
  // Bytes grown in each run after the warmup.
  std::vector<std::int64_t> growth_after_warmup(const std::string& test) const;
  // Bytes grown in the first run; 0 when there was none.
  std::int64_t first_run_growth(const std::string& test) const;

 private:
  int warmup_;
  std::map<std::string, std::vector<std::pair<std::int64_t, std::int64_t>>> runs_;  // bytes, blocks
};

// Ends a test's window and judges what survived it. Leaks that LEAKGUARD_SUPPRESSIONS (a file in
// LSan's syntax, suppressions.hpp) matches are not counted; a bad file is named on stderr once,
// and no suppression applies. A block that another thread frees just after
// the test must not fail it: when something would fail (a leak, strict mode's growth, or growth
// over `net_budget` bytes when that is not negative), the check is retried after 1, 2, 4, 8 and
// 16 ms (as goleak does) and only what is still there counts.
LEAKGUARD_API TestVerdict finish_test_window(const Checkpoint& window, CheckMode mode, std::int64_t net_budget = -1);

// Zeroes 16 KiB of the stack below the caller. A finished test's frames are dead but keep their
// values, and the adapter's own frames are laid over them with slots it never writes: a leaked
// block's address left there would count as a reference and the leak as "held". An adapter calls
// this first, from a frame with no locals, before anything that scans (finish_test_window,
// NoLeakCheck).
LEAKGUARD_API void wipe_dead_stack();

}  // namespace leakguard
