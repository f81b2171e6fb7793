// Answers from traces: where the memory is, what grew, and whether repeated calls leak. These are
// C++ versions of the seed's tracemallocutil helpers, built on the tracemalloc-style API.
//
//   leakguard::TraceScope tracing;                        // on for this scope
//   auto before = leakguard::take_snapshot(true, true);
//   run();
//   auto after = leakguard::take_snapshot(true, true);
//   leakguard::print_top(leakguard::diff_snapshots(before, after));
//
//   auto report = leakguard::detect_leak([] { cache.add(1); }, 10);
//   if (report.verdict == leakguard::LeakVerdict::kLeak) ...
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "leakguard/export.hpp"
#include "leakguard/snapshot.hpp"
#include "leakguard/tracing.hpp"

namespace leakguard {

// Tracing on for a scope. If tracing was off, starts it with nframe frames and stops it (clearing
// the traces) at the end; if it was already on, only sets the frame limit and puts the previous
// one back at the end, leaving the traces alone.
class LEAKGUARD_API TraceScope {
 public:
  explicit TraceScope(int nframe = kDefaultTracebackLimit);
  ~TraceScope();
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;
  bool started_tracing() const { return started_; }

 private:
  bool started_;
  int previous_limit_;
};

// A snapshot without the runtime's own allocations and without leakguard's:
//  - exclude_system drops a block when every frame of its traceback is system code by the
//    attribution rule (attribution.hpp): the C and C++ runtime allocating for itself, such as
//    iostream and locale set-up, exception globals or the loader. A block that any frame of
//    yours asked for, even through std::vector, stays.
//  - exclude_self drops a block that leakguard's own code asked for: going outward from the
//    allocation, the first frame that is not the runtime is in namespace leakguard or in
//    libleakguard. Your code that leakguard calls (the function detect_leak() runs) stays yours.
//    (leakguard's snapshots, symbols and caches are never traced in the first place; this
//    catches what leakguard's inline header code allocates.)
// To exclude more, extend the attribution rule's patterns (set_attribution_rule) or filter the
// result with Snapshot::filter_traces.
LEAKGUARD_API Snapshot take_snapshot(bool exclude_system, bool exclude_self);

// One allocation site: where it is, what it holds.
struct MemoryStat {
  std::string filename;  // empty without debug info
  int lineno = 0;
  std::string function;
  std::size_t size = 0;   // bytes
  std::size_t count = 0;  // blocks
  std::string source;     // the text of the line, or "" when the file cannot be read
};

// The `limit` sites holding the most memory (0: all), largest first, by key (lineno or
// filename; KeyType::kTraceback groups by whole stack and reports its attribution frame).
LEAKGUARD_API std::vector<MemoryStat> top_allocations(const Snapshot& snapshot, std::size_t limit = 10,
                                                      KeyType key = KeyType::kLineno);

// One site's change between two snapshots.
struct AllocDiff {
  std::string filename;
  int lineno = 0;
  std::string function;
  std::ptrdiff_t size_diff = 0;
  std::ptrdiff_t count_diff = 0;
  std::size_t size = 0;   // now
  std::size_t count = 0;  // now
  std::string source;
};

// Sites whose memory changed from `before` to `after`, largest growth first (then by size now).
// only_growth keeps the sites that grew, otherwise every site that changed. limit 0 keeps all.
LEAKGUARD_API std::vector<AllocDiff> diff_snapshots(const Snapshot& before, const Snapshot& after,
                                                    std::size_t limit = 10,
                                                    KeyType key = KeyType::kLineno,
                                                    bool only_growth = true);

// One line per site, "#1: file.cpp:42: 4.0 KiB in 2 blocks" (or "+4.0 KiB +2 blocks" for
// diffs) followed by the source line.
LEAKGUARD_API void print_top(const std::vector<MemoryStat>& stats, std::ostream& out);
LEAKGUARD_API void print_top(const std::vector<MemoryStat>& stats);  // to stderr
LEAKGUARD_API void print_top(const std::vector<AllocDiff>& diffs, std::ostream& out);
LEAKGUARD_API void print_top(const std::vector<AllocDiff>& diffs);  // to stderr

enum class LeakVerdict {
  kNoLeak,      // no iteration after the warmup grew
  kSuspicious,  // some grew, some did not
  kLeak,        // every iteration after the warmup grew
};
LEAKGUARD_API const char* to_string(LeakVerdict verdict);

struct LeakReport {
  int iterations = 0;            // measured runs, after the warmup
  int warmup = 0;
  std::int64_t total_growth = 0;  // bytes, over the measured runs
  double per_iter = 0;            // total_growth / iterations
  std::vector<AllocDiff> top_sites;       // what grew over the measured runs
  std::vector<std::int64_t> byte_deltas;  // per measured run
  std::vector<std::int64_t> block_deltas;
  std::size_t tolerance = 0;  // bytes a run may grow and still count as not growing
  LeakVerdict verdict = LeakVerdict::kNoLeak;
};

// Runs fn warmup times, then `iterations` times, measuring traced bytes and blocks around each
// measured run. The verdict follows CPython's regrtest -R: a run grew when its bytes grew by more
// than tolerance_bytes, or its block count grew; a leak is reported only when every measured run
// grew, growth in some runs only is "suspicious". Lazy statics and first-use caches grow in the
// warmup and not after. Between runs, nothing is allocated through the traced path. Tracing must
// be on (a TraceScope will do); throws std::logic_error otherwise, and std::invalid_argument for
// iterations < 1 or warmup < 0.
LEAKGUARD_API LeakReport detect_leak(const std::function<void()>& fn, int iterations = 5,
                                     int warmup = 1, std::size_t tolerance_bytes = 0);

}  // namespace leakguard
