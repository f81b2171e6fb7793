// Snapshots of the traced blocks and the statistics computed from them, as tracemalloc's
// Snapshot, Statistic, StatisticDiff, Filter and DomainFilter.
#pragma once
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "leakguard/export.hpp"
#include "leakguard/traceback.hpp"
#include "leakguard/tracing.hpp"

namespace leakguard {

struct Trace {
  Domain domain = kHeapDomain;
  std::size_t size = 0;
  std::shared_ptr<const Traceback> traceback_ptr;  // shared by every trace with the same stack

  const Traceback& traceback() const { return *traceback_ptr; }
};

// How statistics group traces (tracemalloc's key_type).
enum class KeyType {
  kFilename,   // by the attribution frame's file
  kLineno,     // by the attribution frame's file and line
  kTraceback,  // by the whole traceback
};
// "filename", "lineno" or "traceback"; throws std::invalid_argument otherwise.
LEAKGUARD_API KeyType parse_key_type(std::string_view key);

struct LEAKGUARD_API Statistic {
  // For the filename key, a single frame with the file; for lineno, with file, line and function.
  Traceback traceback;
  std::size_t size = 0;
  std::size_t count = 0;
  // "file.cpp:42: size=4096 B, count=2, average=2048 B"
  std::string str() const;
};

struct LEAKGUARD_API StatisticDiff {
  Traceback traceback;
  std::size_t size = 0;        // now
  std::ptrdiff_t size_diff = 0;
  std::size_t count = 0;       // now
  std::ptrdiff_t count_diff = 0;
  // "file.cpp:42: size=4096 B (+4096 B), count=2 (+2), average=2048 B"
  std::string str() const;
};

// Keeps (inclusive) or drops traces whose frame file matches filename_pattern (fnmatch: * ? []),
// and line lineno if given. all_frames matches any frame of the traceback, otherwise the
// attribution frame. With a domain, only traces of that domain are considered, as tracemalloc.
struct LEAKGUARD_API Filter {
  bool inclusive = true;
  std::string filename_pattern;
  std::optional<int> lineno;
  bool all_frames = false;
  std::optional<Domain> domain;

  Filter(bool inclusive_, std::string pattern, std::optional<int> lineno_ = std::nullopt,
         bool all_frames_ = false, std::optional<Domain> domain_ = std::nullopt)
      : inclusive(inclusive_), filename_pattern(std::move(pattern)), lineno(lineno_),
        all_frames(all_frames_), domain(domain_) {}
  bool matches(const Trace& trace) const;
};

struct LEAKGUARD_API DomainFilter {
  bool inclusive = true;
  Domain domain = kHeapDomain;
  bool matches(const Trace& trace) const;
};

using TraceFilter = std::variant<Filter, DomainFilter>;

// A failure to dump or load a snapshot file; what() names the file and the problem.
class LEAKGUARD_API SnapshotError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class LEAKGUARD_API Snapshot {
 public:
  Snapshot();
  Snapshot(std::vector<Trace> traces, int traceback_limit);

  const std::vector<Trace>& traces() const { return traces_; }
  int traceback_limit() const { return traceback_limit_; }

  // Sorted by size, then count, descending. cumulative (filename and lineno keys only) counts a
  // block for every distinct frame of its traceback, not just the attribution frame; a block is
  // counted once per key even when the key appears in several of its frames.
  std::vector<Statistic> statistics(KeyType key, bool cumulative = false) const;
  std::vector<Statistic> statistics(std::string_view key, bool cumulative = false) const {
    return statistics(parse_key_type(key), cumulative);
  }
  // Differences from `old`, sorted by |size_diff|, size, |count_diff|, count, descending.
  std::vector<StatisticDiff> compare_to(const Snapshot& old, KeyType key,
                                        bool cumulative = false) const;
  std::vector<StatisticDiff> compare_to(const Snapshot& old, std::string_view key,
                                        bool cumulative = false) const {
    return compare_to(old, parse_key_type(key), cumulative);
  }
  // A new snapshot with the traces that pass every exclusive filter and, if there are inclusive
  // filters, at least one of them.
  Snapshot filter_traces(const std::vector<TraceFilter>& filters) const;

  // Writes the snapshot, symbolized, in the versioned binary format described at the top of
  // src/snapshot/snapshot_file.cpp (readable by load() and by `leakguard stats`/`diff` in any
  // process). Throws
  // SnapshotError on I/O failure; an existing file is replaced only when the write succeeded.
  void dump(const std::string& path) const;
  // Throws SnapshotError naming the file and the problem for a missing, truncated, corrupt or
  // foreign file, or a newer format version.
  static Snapshot load(const std::string& path);

 private:
  std::vector<Trace> traces_;
  int traceback_limit_ = 0;
};

// A snapshot of every traced block. Throws std::logic_error when tracing is off, as tracemalloc
// raises RuntimeError.
LEAKGUARD_API Snapshot take_snapshot();

}  // namespace leakguard
