// Reports of what grew, read at a glance by people and parsed by machines: the text a failing
// test prints, JSON with a documented schema, and collapsed stacks for flame graphs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "leakguard/export.hpp"
#include "leakguard/snapshot.hpp"
#include "leakguard/traceback.hpp"

namespace leakguard {

// Memory one call stack holds more (or less) of than before.
struct ReportSite {
  std::int64_t size_diff = 0;
  std::int64_t count_diff = 0;
  std::size_t size = 0;   // now
  std::size_t count = 0;  // now
  Traceback traceback;    // most recent call first
};

struct Report {
  std::string what;  // what failed, e.g. "leak" or "net growth over budget"
  std::int64_t total_bytes = 0;
  std::int64_t total_blocks = 0;
  std::optional<std::int64_t> budget;  // bytes, when a budget was exceeded
  std::vector<ReportSite> sites;       // largest growth first
};

struct Classification;

// The sites whose memory grew from `before` to `after`, largest growth first; totals are over all
// of them. A site is one path through code that is not system code (attribution.hpp): stacks
// that differ only inside the runtime are merged and shown with the largest one.
LEAKGUARD_API Report growth_report(const Snapshot& before, const Snapshot& after, std::string what);
// The definite leaks (direct and indirect) of a classification (classify.hpp), gathered into
// sites the same way; held blocks are left out.
LEAKGUARD_API Report leak_report(const Classification& classification, std::string what);

struct TextOptions {
  std::size_t max_sites = 10;   // further sites are summed in one line
  std::size_t max_frames = 16;  // per site; system frames folded into one line count as one
  bool colour = false;          // ANSI colour; colour_for_stderr() says whether stderr wants it
};
// True when stderr is a terminal and NO_COLOR is unset.
LEAKGUARD_API bool colour_for_stderr();

// The text report:
//   leakguard: leak: +4.0 KiB in +2 blocks (budget 0 B)
//     +4.0 KiB +2 blocks  src/cache.cpp:42  buffer = new char[2048];
//         at Cache::grow() src/cache.cpp:42
//         at Cache::add(int) src/cache.cpp:17 [inlined]
//         ... 3 frames in system code: libstdc++.so.6, libc.so.6
//         at CacheTest_Grows_Test::TestBody() tests/cache_test.cpp:9
// One entry per site, largest growth first; under each its traceback, most recent call first,
// with runs of system frames (attribution.hpp) folded into one line. The budget part appears only
// when the report has one.
LEAKGUARD_API std::string format_text(const Report& report, const TextOptions& options = {});

// JSON, schema version 1:
//   {"leakguard_report": 1, "what": str, "total_bytes": int, "total_blocks": int,
//    "budget": int | null,
//    "sites": [{"size_diff": int, "count_diff": int, "size": int, "count": int,
//               "frames": [{"function": str, "file": str, "line": int, "module": str,
//                           "offset": int, "inlined": bool}, ...]}, ...]}
// frames are most recent call first; "file" is "" and "line" 0 without debug info.
LEAKGUARD_API std::string to_json(const Report& report);

// A failure to read a report; what() names the source and the problem.
class LEAKGUARD_API ReportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// Reads what to_json() wrote. `source` names the text in errors (a file name, say).
LEAKGUARD_API Report report_from_json(const std::string& json, const std::string& source = "report");

// Collapsed stacks, one line per site: "outermost;...;innermost bytes", the format flamegraph.pl,
// inferno and speedscope read. Only growth is written; the numbers add up to the report's growth.
LEAKGUARD_API std::string to_collapsed(const Report& report);

}  // namespace leakguard
