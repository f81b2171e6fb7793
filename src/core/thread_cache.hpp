// Per-thread tracing state. Each thread that allocates owns a ThreadCache: its own table of the
// blocks it allocated and the bytes they hold. The owner updates it with plain stores; the only
// cross-thread traffic on the fast path is reading the `stop` flag (see world.hpp), so threads
// never contend with each other on a cache line while allocating.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <cstdint>

#include "block_store.hpp"
#include "recent_stacks.hpp"
#include "stack_capture.hpp"

namespace leakguard::detail {

// Frees of blocks this thread does not own (allocated by another thread, or before tracing
// started) are batched: the block's memory is released only once the batch has been matched
// against the other tables, so its address cannot be reused while a stale record still names it.
constexpr std::uint32_t kMaxPendingFrees = 64;
constexpr std::uint64_t kMaxPendingBytes = 256 * 1024;

struct alignas(64) ThreadCache {
  enum State : std::uint32_t { kOwned = 1, kPooled = 2, kShared = 3 };

  // Written by the owner around each update; read by a thread stopping the world.
  std::atomic<std::uint32_t> busy{0};
  std::atomic<std::uint32_t> state{kPooled};
  std::uint32_t index = 0;
  pid_t owner_tid = 0;

  // Owner-private, or anyone's while the world is stopped (or the shared lock is held, for the
  // shared cache).
  BlockStore table;
  std::atomic<std::int64_t> bytes{0};  // sum of sizes in `table`; read racily by peak tracking
  std::atomic<std::int64_t> limit{0};  // bytes may grow to here before peak is re-checked
  // While this cache holds the peak lease (g_peak_lease, tracer.cpp): the traced total outside
  // it when the lease began; `limit` is then the most this table has held since.
  std::atomic<std::int64_t> lease_base{0};
  // While departures are logged (tracer_log_departures, tracer.hpp): the entries of earlier
  // windows that left `table`. Written as `table` is, read with the world stopped.
  BlockEntry* departed = nullptr;
  std::uint32_t ndeparted = 0;
  std::uint32_t departed_capacity = 0;
  std::uint32_t npending = 0;
  std::uint64_t pending_bytes = 0;
  void* pending[kMaxPendingFrees];
  // Owner-private. Kept with the cache rather than the thread: a pooled cache's next owner finds
  // its entries still true, as stack ids are for the life of the process.
  RecentStacks recent_stacks;
};

struct ThreadState {
  ThreadCache* cache;
  // Nonzero while this thread runs tracer code: its allocations and frees then pass straight to
  // glibc. This is what keeps the tracer from recursing, and what keeps a signal handler that
  // allocates from re-entering a half-finished update.
  std::uint32_t mute;
  // Nonzero inside an UntracedScope: new blocks are not traced, but frees still forget traced
  // blocks, so a block freed there never lingers as a false survivor.
  std::uint32_t untraced;
  // Nonzero while leakguard's own code runs (an UntracedScope): its blocks, untraced, come from
  // leakguard's own heap (own_heap.hpp), apart from the program's.
  std::uint32_t own;
  bool exiting;      // the cache was handed back at thread exit; use the shared cache
  bool has_bounds;
  StackBounds bounds;
  // The last few blocks allocated while muted (by a signal handler that interrupted the tracer):
  // never traced, so their free in the same state passes straight to glibc. Any other free while
  // muted is deferred (see record_free).
  static constexpr std::uint32_t kMutedAllocs = 4;
  void* muted_allocs[kMutedAllocs];
  std::uint32_t muted_next;
};

// The thread's stack bounds, learnt at its first need (for a thread other than the initial one
// that reads /proc/self/maps, so it is done once).
LG_ALWAYS_INLINE const StackBounds& stack_bounds_of(ThreadState& ts) noexcept {
  if (LG_UNLIKELY(!ts.has_bounds)) {
    ts.bounds = current_thread_stack_bounds();
    ts.has_bounds = true;
  }
  return ts.bounds;
}

// The peak lease (tracer.cpp): the cache of the one thread that is growing the traced total to a
// new peak, or null. Anything else that changes the total ends the lease first.
extern std::atomic<ThreadCache*> g_peak_lease;
void end_peak_lease() noexcept;
// True when the lease is held by a thread other than tc's: tc's change must end it first.
LG_ALWAYS_INLINE bool peak_leased_elsewhere(const ThreadCache* tc) noexcept {
  const ThreadCache* holder = g_peak_lease.load(std::memory_order_relaxed);
  return LG_UNLIKELY(holder != nullptr) && holder != tc;
}

// The departure log (tracer_log_departures, tracer.hpp): the window it began at, 0 while none
// runs. Every path that takes a block out of a table reads it once, after the table did.
extern std::atomic<std::uint64_t> g_departures_from;
// The entry's two words by value: a reference would keep its address live in a callee-saved
// register across every free.
__attribute__((cold)) void keep_departure(ThreadCache& tc, std::uint64_t key, std::uint64_t meta) noexcept;
// `e` just left tc's table (by its writer): kept while a log runs, if of an earlier window.
LG_ALWAYS_INLINE void note_departure(ThreadCache& tc, const BlockEntry& e) noexcept {
  const std::uint64_t from = g_departures_from.load(std::memory_order_relaxed);
  if (LG_LIKELY(from == 0) || key_tag(e.key) >= from) return;
  keep_departure(tc, e.key, e.meta);
}
// A log running can no longer be whole: a heap block entered or left the side table (which keeps
// no window tags), the traces were cleared, or this is a fork child.
void departures_incomplete() noexcept;

// The owner of tc took `e` out of its table: the total shrinks by its size (ending another
// thread's lease first, since that lease counts on the rest of the total standing still), and
// a departure log running keeps it.
LG_ALWAYS_INLINE void uncount_own(ThreadCache* tc, const BlockEntry& e) noexcept {
  note_departure(*tc, e);
  if (peak_leased_elsewhere(tc)) end_peak_lease();
  tc->bytes.store(tc->bytes.load(std::memory_order_relaxed) - static_cast<std::int64_t>(meta_size(e.meta)),
                  std::memory_order_relaxed);
}

extern __thread ThreadState t_state __attribute__((tls_model("initial-exec")));

}  // namespace leakguard::detail
