// The stacks one thread interned most recently, found by the walk's running hash. A program's
// allocations alternate among a few call paths (a test body building strings, vector storage and
// map nodes in one loop), so a stack that differs from the thread's previous one was usually seen
// a few allocations before. A hit is a compare against this thread's own copy; a miss probes the
// process-wide stack table, whose index and records are by then out of cache (in a test suite a
// probe that found its stack cost as much as the rest of the allocation).
//
// Exact: an entry is used only when every frame and the length match, and a stack id, once given,
// names the same frames for the life of the process (stack_table.hpp). Owner-private, like the
// rest of the walk's memos; only record_alloc() uses it, with the thread muted, so a signal
// handler's allocation is not traced while an entry is half-written.
#pragma once
#include <atomic>
#include <cstdint>

#include "config.hpp"

namespace leakguard::detail {

class RecentStacks {
 public:
  static constexpr std::uint32_t kEntries = 32;
  static constexpr std::uint32_t kFrames = 16;  // the default frame limit; longer stacks are not kept

  // The id of `frames` if this thread interned it recently, else 0.
  LG_ALWAYS_INLINE std::uint32_t find(const std::uintptr_t* frames, std::uint32_t n,
                                      std::uint64_t hash) const noexcept {
    const Entry& e = entries_[slot(hash)];
    if (e.hash != hash || e.nframes != n || n > kFrames) return 0;
    std::uintptr_t diff = 0;
    for (std::uint32_t i = 0; i < n; ++i) diff |= e.frames[i] ^ frames[i];
    return diff == 0 ? e.id : 0;
  }

  LG_ALWAYS_INLINE void remember(const std::uintptr_t* frames, std::uint32_t n, std::uint64_t hash,
                                 std::uint32_t id) noexcept {
    if (n > kFrames || id == 0) return;
    Entry& e = entries_[slot(hash)];
    // The id last, and cleared first: an entry caught half-written (its owner interrupted by a
    // fork, the child adopting the cache) reads as empty, never as another stack's id.
    e.id = 0;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    e.hash = hash;
    e.nframes = n;
    for (std::uint32_t i = 0; i < n; ++i) e.frames[i] = frames[i];
    std::atomic_signal_fence(std::memory_order_seq_cst);
    e.id = id;
  }

 private:
  struct Entry {
    std::uint64_t hash;
    std::uint32_t id;  // 0: empty
    std::uint32_t nframes;
    std::uintptr_t frames[kFrames];
  };
  // The running hash is a rotate-xor of the frames: multiplied so that its high bits, which pick
  // the slot, depend on all of them.
  static std::uint32_t slot(std::uint64_t hash) noexcept {
    return static_cast<std::uint32_t>((hash * 0x9E3779B97F4A7C15ull) >> 59);
  }
  static_assert(kEntries == 32, "slot() picks 5 bits");
  Entry entries_[kEntries] = {};
};

}  // namespace leakguard::detail
