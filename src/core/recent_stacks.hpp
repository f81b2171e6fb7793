// The stacks one thread used most recently, found by the walk's running hash. A program's
// allocations alternate among a few call paths (a test body building strings, vector storage and
// map nodes in one loop; a benchmark loop allocating from one line), so a stack was usually seen a
// few allocations before. A hit compares the walk's frames with the interned record's; a miss
// probes the process-wide stack table, whose index and records are by then out of cache (in a
// test suite a probe that found its stack cost as much as the rest of the allocation).
//
// It is asked when the walk's path memo (stack_capture.hpp) did not already give the stack's id:
// a walk from a call site whose last walk differed, or with nframe = 1, which keeps no path memo.
// An entry points at its interned record instead of keeping a copy of the frames, so remembering
// a stack copies nothing, any length is kept, and 64 entries fit in 1 KiB.
//
// Exact: an entry is used only when every frame and the length match the record's, and a record,
// once interned, names the same frames for the life of the process (stack_table.hpp).
// Owner-private, like the rest of the walk's memos; only record_alloc() uses it, with the thread
// muted, so a signal handler's allocation is not traced while an entry is half-written.
#pragma once
#include <atomic>
#include <cstdint>

#include "config.hpp"
#include "stack_table.hpp"

namespace leakguard::detail {

class RecentStacks {
 public:
  static constexpr std::uint32_t kSets = 32;
  static constexpr std::uint32_t kWays = 2;  // two stacks that share a set alternate without a miss

  // The id of `frames` if this thread used it recently, else 0. The entry used last is tried
  // first: a loop allocating from one place at nframe = 1 finds its stack without the set's
  // lookup, whose multiply and dependent loads were 1-2 ns of a 17 ns pair in the micro benchmark.
  LG_ALWAYS_INLINE std::uint32_t find(const std::uintptr_t* frames, std::uint32_t n,
                                      std::uint64_t hash) noexcept {
    if (const std::uint32_t id = match(entries_[last_], frames, n, hash)) return id;
    const std::uint32_t set = set_of(hash) * kWays;
    for (std::uint32_t way = 0; way < kWays; ++way) {
      if (const std::uint32_t id = match(entries_[set + way], frames, n, hash)) {
        last_ = set + way;
        return id;
      }
    }
    return 0;
  }

  // `record` is the one intern_stack() gave this stack (null when the table was full: nothing is
  // kept). Replaces the older of the set's two entries.
  LG_ALWAYS_INLINE void remember(std::uint64_t hash, const StackRecord* record) noexcept {
    if (record == nullptr) return;
    const std::uint32_t s = set_of(hash);
    const std::uint32_t way = (older_ >> s) & 1;
    older_ ^= std::uint32_t{1} << s;
    Entry& e = entries_[s * kWays + way];
    // The record last, and cleared first: an entry caught half-written (its owner interrupted by a
    // fork, the child adopting the cache) reads as empty, never as another stack's record.
    e.record = nullptr;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    e.hash = hash;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    e.record = record;
    last_ = s * kWays + way;
  }

 private:
  struct Entry {
    std::uint64_t hash;
    const StackRecord* record;  // null: empty
  };
  // The running hash is a rotate-xor of the frames: multiplied so that its high bits, which pick
  // the set, depend on all of them.
  static std::uint32_t set_of(std::uint64_t hash) noexcept {
    return static_cast<std::uint32_t>((hash * 0x9E3779B97F4A7C15ull) >> 59);
  }
  static_assert(kSets == 32 && kWays == 2, "set_of() picks 5 bits; older_ has a bit a set");
  LG_ALWAYS_INLINE static std::uint32_t match(const Entry& e, const std::uintptr_t* frames, std::uint32_t n,
                                              std::uint64_t hash) noexcept {
    const StackRecord* r = e.record;
    if (e.hash != hash || r == nullptr || r->nframes != n) return 0;
    std::uintptr_t diff = 0;
    for (std::uint32_t i = 0; i < n; ++i) diff |= r->frames[i] ^ frames[i];
    return diff == 0 ? r->id : 0;
  }
  Entry entries_[kSets * kWays] = {};
  std::uint32_t last_ = 0;   // the entry that last found or took a stack
  std::uint32_t older_ = 0;  // bit s: the way of set s to replace next
};

}  // namespace leakguard::detail
