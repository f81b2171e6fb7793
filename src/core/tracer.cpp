#include "tracer.hpp"

#include <cerrno>
#include <cstring>

#include "block_entry.hpp"
#include "modules.hpp"
#include "raw_memory.hpp"
#include "real_alloc.hpp"
#include "side_table.hpp"
#include "stack_capture.hpp"
#include "stack_table.hpp"
#include "world.hpp"

namespace leakguard::detail {

TracerFlags g_flags;

namespace {


std::atomic<std::int64_t> g_peak{0};

// Raises the peak to at least `total`.
void raise_peak(std::int64_t total) noexcept {
  std::int64_t peak = g_peak.load(std::memory_order_relaxed);
  while (total > peak && !g_peak.compare_exchange_weak(peak, total, std::memory_order_relaxed)) {
  }
}

// Totals of what lives outside the per-thread tables, kept as atomics so that peak tracking can
// read them without a lock.
std::atomic<std::int64_t> g_side_bytes{0};
std::atomic<std::uint32_t> g_side_heap_blocks{0};
std::atomic<std::uint32_t> g_shared_blocks{0};
std::atomic<std::uint64_t> g_lost_blocks{0};
std::atomic<std::uint64_t> g_lost_bytes{0};

}  // namespace

// The peak lease. While the heap grows, every allocation is a new peak, and update_peak() (a
// sum over every table, a CAS, the watch, every thread's limit) ran at each one. When a single
// owning thread is at the peak with no watch armed, it takes the lease instead: it records the
// total outside its table (lease_base), and from then on its `limit` is the most its own table
// has held, raised by a store at each allocation that passes it. The peak is then
// max(g_peak, lease_base + limit). That holds as long as nothing outside the holder's table
// changes, so every other change of the traced total (another thread's allocation or free, the
// shared cache, the side table, a world stop's forgets, a thread's exit, a fork) ends the lease
// first (end_peak_lease folds it into g_peak), and the readers of the peak fold it too.
std::atomic<ThreadCache*> g_peak_lease{nullptr};

// The departure log (tracer.hpp): the window it began at (0 while none runs), and whether an
// entry could not be kept since.
std::atomic<std::uint64_t> g_departures_from{0};
namespace {
std::atomic<bool> g_departures_lost{false};
std::uint64_t g_departures_wraps = 0;
constexpr std::uint32_t kMaxDeparted = std::uint32_t{1} << 22;  // a table's log: 64 MiB at most
constexpr std::uint32_t kKeptDeparted = std::uint32_t{1} << 16;  // kept mapped between logs: 1 MiB
}  // namespace

void keep_departure(ThreadCache& tc, std::uint64_t key, std::uint64_t meta) noexcept {
  if (tc.ndeparted == tc.departed_capacity) {
    const std::uint32_t capacity = tc.departed_capacity == 0 ? 256 : tc.departed_capacity * 2;
    auto* grown = capacity <= kMaxDeparted ? static_cast<BlockEntry*>(raw_alloc(capacity * sizeof(BlockEntry)))
                                           : nullptr;
    if (grown == nullptr) {
      g_departures_lost.store(true, std::memory_order_relaxed);
      return;
    }
    if (tc.ndeparted != 0) std::memcpy(grown, tc.departed, tc.ndeparted * sizeof(BlockEntry));
    BlockEntry* old = tc.departed;
    const std::uint32_t old_capacity = tc.departed_capacity;
    tc.departed = grown;
    tc.departed_capacity = capacity;
    raw_free(old, old_capacity * sizeof(BlockEntry));
  }
  tc.departed[tc.ndeparted++] = BlockEntry{key, meta};
}

void departures_incomplete() noexcept {
  if (g_departures_from.load(std::memory_order_relaxed) != 0) g_departures_lost.store(true, std::memory_order_relaxed);
}

void end_peak_lease() noexcept {
  if (g_peak_lease.load(std::memory_order_relaxed) == nullptr) return;
  ThreadCache* holder = g_peak_lease.exchange(nullptr, std::memory_order_acq_rel);
  if (holder == nullptr) return;
  raise_peak(holder->lease_base.load(std::memory_order_relaxed) + holder->limit.load(std::memory_order_relaxed));
}

namespace {

// Drops the lease without folding it (the peak is being reset).
void discard_peak_lease() noexcept { g_peak_lease.store(nullptr, std::memory_order_relaxed); }

class MuteScope {
 public:
  MuteScope() noexcept { ++t_state.mute; }
  ~MuteScope() { --t_state.mute; }
};

void count_lost(std::uint64_t size) {
  g_lost_blocks.fetch_add(1, std::memory_order_relaxed);
  g_lost_bytes.fetch_add(size, std::memory_order_relaxed);
}

std::vector<RawTrace> collect_locked(const StoppedWorld& world) noexcept;

// The watch on the traced total (watch_total()): armed while the threshold is above zero.
std::atomic<std::int64_t> g_watch_threshold{0};
std::atomic<bool> g_watch_busy{false};
Crossing* g_crossing = nullptr;  // made when first armed, never freed: a report may read it at exit

// The traced total just went above the watch's threshold by the racy sum: confirm it with the
// world stopped and record every live block and the stack that crossed.
void fire_watch(std::uint32_t crossing_stack) {
  if (g_watch_busy.exchange(true, std::memory_order_acquire)) return;  // another thread is at it
  {
    StoppedWorld world;
    std::int64_t total = g_side_bytes.load(std::memory_order_relaxed);
    world.for_each_cache([&](ThreadCache& tc) { total += tc.bytes.load(std::memory_order_relaxed); });
    const std::int64_t threshold = g_watch_threshold.load(std::memory_order_relaxed);
    if (threshold > 0 && total > threshold) {
      g_watch_threshold.store(0, std::memory_order_relaxed);
      g_crossing->fired = true;
      g_crossing->total = static_cast<std::uint64_t>(total);
      g_crossing->stack_id = crossing_stack;
      g_crossing->live = collect_locked(world);
    }
  }
  g_watch_busy.store(false, std::memory_order_release);
}

// Raises the global peak to the current total if needed, then gives `self` a new limit. Limits
// split the headroom below the peak (or below an armed watch, if lower) between owning threads,
// so a thread re-checks only when its share runs out: in steady state (below the peak) this is
// never on the fast path, and a single thread growing to a new peak, or past the watch, is seen
// at the allocation that does it. Two threads growing at the very same instant can miss each
// other's last allocation; the peak is never overstated, and the watch fires at most one
// allocation late.
void update_peak(ThreadCache* self, std::uint32_t stack_id) {
  end_peak_lease();
  const std::int64_t mine = self != nullptr ? self->bytes.load(std::memory_order_relaxed) : 0;
  std::int64_t others = g_side_bytes.load(std::memory_order_relaxed) +
                        shared_cache().bytes.load(std::memory_order_relaxed);
  const std::uint32_t ncaches = cache_count();
  for (std::uint32_t i = 0; i < ncaches; ++i) {
    ThreadCache* tc = cache_at(i);
    if (tc != self) others += tc->bytes.load(std::memory_order_relaxed);
  }
  const std::int64_t total = others + mine;
  raise_peak(total);
  std::int64_t peak = g_peak.load(std::memory_order_relaxed);
  if (total > peak) peak = total;
  const std::int64_t watch = g_watch_threshold.load(std::memory_order_relaxed);
  if (LG_UNLIKELY(watch > 0 && total > watch)) fire_watch(stack_id);
  if (self == nullptr || self->state.load(std::memory_order_relaxed) != ThreadCache::kOwned) return;
  const std::uint32_t owners = owned_cache_count() > 0 ? owned_cache_count() : 1;
  const std::int64_t ceiling = watch > 0 && watch < peak ? watch : peak;
  const std::int64_t share = ceiling > total ? (ceiling - total) / owners : 0;
  for (std::uint32_t i = 0; i < ncaches; ++i) {
    ThreadCache* other = cache_at(i);
    if (other == self) continue;
    const std::int64_t cap = other->bytes.load(std::memory_order_relaxed) + share;
    if (other->limit.load(std::memory_order_relaxed) > cap) {
      other->limit.store(cap, std::memory_order_relaxed);
    }
  }
  if (total >= peak && watch == 0 && owners == 1) {
    // The only owner, at the peak: it takes the lease (see g_peak_lease). The watch is read again
    // after the lease is published: watch_total() arms it before stopping the world and ending any
    // lease, so one of the two sees the other.
    self->lease_base.store(others, std::memory_order_relaxed);
    self->limit.store(mine, std::memory_order_relaxed);
    g_peak_lease.store(self, std::memory_order_seq_cst);
    if (g_watch_threshold.load(std::memory_order_seq_cst) > 0) end_peak_lease();
    return;
  }
  self->limit.store(mine + share, std::memory_order_relaxed);
}

// `meta` is make_meta(size, stack id), computed by the caller before the update begins.
// `tag` is the block's window: the current one for a new block, its own for one put back.
void insert_owned(ThreadCache* tc, std::uintptr_t addr, std::uint64_t size, std::uint64_t meta,
                  std::uint64_t tag = BlockStore::kCurrentWindow) {
  const std::uint64_t akey = addr_key(addr);
  if (peak_leased_elsewhere(tc)) end_peak_lease();
  while (!owner_enter(tc)) {
  }
  if (!tracing_enabled()) {
    owner_exit(tc);
    return;
  }
  tc->table.sync_window(g_window.load(std::memory_order_acquire));
  const BlockStore::InsertOutcome outcome = tc->table.insert(akey, meta, tag);
  if (LG_UNLIKELY(outcome.dropped)) note_departure(*tc, tc->table.dropped_entry());
  const std::int64_t now = tc->bytes.load(std::memory_order_relaxed) + static_cast<std::int64_t>(size) -
                           static_cast<std::int64_t>(outcome.dropped_bytes);
  tc->bytes.store(now, std::memory_order_relaxed);
  owner_exit(tc);
  if (LG_UNLIKELY(outcome.lost)) count_lost(outcome.dropped_bytes);
  if (now > tc->limit.load(std::memory_order_relaxed)) {
    if (g_peak_lease.load(std::memory_order_relaxed) == tc) {
      tc->limit.store(now, std::memory_order_relaxed);  // the holder's new high-water mark
    } else {
      update_peak(tc, meta_stack(meta));
    }
  }
}

// For threads without a cache (exiting, or none could be made) and blocks the 16-byte entry
// cannot hold. Both go through a lock; neither is on the common path.
void insert_elsewhere(std::uintptr_t addr, std::uint64_t size, std::uint32_t stack_id,
                      std::uint64_t tag = BlockStore::kCurrentWindow) {
  end_peak_lease();
  if (addr_encodable(addr) && size <= kMaxInlineSize) {
    ThreadCache& sc = shared_cache();
    SpinGuard guard(shared_lock());
    if (!tracing_enabled()) return;
    sc.table.sync_window(g_window.load(std::memory_order_acquire));
    const BlockStore::InsertOutcome outcome = sc.table.insert(addr_key(addr), make_meta(size, stack_id), tag);
    if (outcome.dropped) note_departure(sc, sc.table.dropped_entry());
    if (outcome.lost) count_lost(outcome.dropped_bytes);
    if (!outcome.dropped) g_shared_blocks.fetch_add(1, std::memory_order_relaxed);
    sc.bytes.fetch_add(static_cast<std::int64_t>(size) - static_cast<std::int64_t>(outcome.dropped_bytes),
                       std::memory_order_relaxed);
  } else {
    SpinGuard guard(side_lock());
    if (!tracing_enabled()) return;
    departures_incomplete();
    SideEntry replaced;
    const auto result = side_table().insert(0, addr, size, stack_id, &replaced);
    if (result == SideTable::Result::kNoMemory) {
      count_lost(size);
      return;
    }
    std::int64_t delta = static_cast<std::int64_t>(size);
    if (result == SideTable::Result::kReplaced) {
      delta -= static_cast<std::int64_t>(replaced.size);
    } else {
      g_side_heap_blocks.fetch_add(1, std::memory_order_relaxed);
    }
    g_side_bytes.fetch_add(delta, std::memory_order_relaxed);
  }
  update_peak(nullptr, stack_id);
}

// Removes addr from whichever table holds it. Only with the world stopped.
bool forget_anywhere(const StoppedWorld& world, std::uintptr_t addr, ForgottenBlock* out) {
  end_peak_lease();
  bool found = false;
  if (addr_encodable(addr)) {
    world.for_each_cache([&](ThreadCache& tc) {
      BlockEntry e;
      if (found || !tc.table.erase(addr_key(addr), &e)) return;
      found = true;
      note_departure(tc, e);
      tc.bytes.fetch_sub(static_cast<std::int64_t>(meta_size(e.meta)), std::memory_order_relaxed);
      if (tc.state.load(std::memory_order_relaxed) == ThreadCache::kShared) {
        g_shared_blocks.fetch_sub(1, std::memory_order_relaxed);
      }
      *out = ForgottenBlock{true, meta_size(e.meta), meta_stack(e.meta), key_tag(e.key)};
    });
  }
  if (!found) {
    SideEntry e;
    if (side_table().erase(0, addr, &e)) {
      found = true;
      departures_incomplete();
      g_side_bytes.fetch_sub(static_cast<std::int64_t>(e.size), std::memory_order_relaxed);
      g_side_heap_blocks.fetch_sub(1, std::memory_order_relaxed);
      *out = ForgottenBlock{true, e.size, e.stack_id, 0};
    }
  }
  return found;
}

// Frees that arrive while their thread is inside the tracer (a signal handler interrupting it)
// cannot touch the tables, which may be mid-update, nor stop the world, whose locks the
// interrupted code may hold. Such blocks wait here, still allocated so their address cannot be
// reused, until the next world stop forgets and frees them: before any reader looks. The list is
// linked through the blocks themselves (every block has room for a pointer), and pushing is a
// CAS loop, which is async-signal-safe. Past kMaxHandlerFrees waiting blocks, a free passes
// straight through and its trace lingers until the address is reused.
std::atomic<void*> g_handler_frees{nullptr};
std::atomic<std::uint32_t> g_handler_free_count{0};
constexpr std::uint32_t kMaxHandlerFrees = 4096;

bool defer_handler_free(void* ptr) noexcept {
  if (g_handler_free_count.fetch_add(1, std::memory_order_relaxed) >= kMaxHandlerFrees) {
    g_handler_free_count.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  void* head = g_handler_frees.load(std::memory_order_relaxed);
  do {
    *static_cast<void**>(ptr) = head;
  } while (!g_handler_frees.compare_exchange_weak(head, ptr, std::memory_order_release,
                                                  std::memory_order_relaxed));
  return true;
}

// Completes every thread's deferred frees. Runs inside each world stop, so readers never see a
// block the program has already freed.
void drain_pending(const StoppedWorld& world) noexcept {
  for (void* p = g_handler_frees.exchange(nullptr, std::memory_order_acquire); p != nullptr;) {
    void* next = *static_cast<void**>(p);
    ForgottenBlock ignored;
    forget_anywhere(world, reinterpret_cast<std::uintptr_t>(p), &ignored);
    __libc_free(p);
    g_handler_free_count.fetch_sub(1, std::memory_order_relaxed);
    p = next;
  }
  world.for_each_cache([&](ThreadCache& tc) {
    for (std::uint32_t i = 0; i < tc.npending; ++i) {
      ForgottenBlock ignored;
      forget_anywhere(world, reinterpret_cast<std::uintptr_t>(tc.pending[i]), &ignored);
      __libc_free(tc.pending[i]);
    }
    tc.npending = 0;
    tc.pending_bytes = 0;
  });
}

// True when no table but `tc`'s could hold a block: then a block tc does not know is untraced.
bool only_cache(const ThreadCache* tc) {
  return cache_count() == 1 && cache_at(0) == tc &&
         g_shared_blocks.load(std::memory_order_relaxed) == 0 &&
         g_side_heap_blocks.load(std::memory_order_relaxed) == 0;
}

bool forget_synchronously(std::uintptr_t addr, ForgottenBlock* out) {
  StoppedWorld world;
  return forget_anywhere(world, addr, out);
}

}  // namespace

namespace {
// The id of the stack a walk found: its path memo's, else one of the thread's recent stacks
// (`recent`: null for a walk that must not touch them), else the table's; the memos that missed
// learn it.
LG_ALWAYS_INLINE std::uint32_t stack_of(const CaptureResult& walk, const std::uintptr_t* frames,
                                        RecentStacks* recent) noexcept {
  if (walk.known_id != 0) return walk.known_id;
  std::uint32_t id = recent != nullptr ? recent->find(frames, walk.n, walk.hash) : 0;
  if (id == 0) {
    id = intern_stack(frames, walk.n, walk.hash);
    if (recent != nullptr) recent->remember(walk.hash, stack_record(id));
  }
  if (walk.id_slot != nullptr) *walk.id_slot = id;
  return id;
}
}  // namespace

void record_alloc(void* ptr, std::size_t size, std::uintptr_t entry_fp) noexcept {
  ThreadState& ts = t_state;
  if ((ts.mute | ts.untraced) != 0) {
    if (ts.mute != 0) ts.muted_allocs[ts.muted_next++ % ThreadState::kMutedAllocs] = ptr;
    return;
  }
  MuteScope mute;
  ThreadCache* tc = ts.cache != nullptr ? ts.cache : acquire_thread_cache();
  const StackBounds& bounds = stack_bounds_of(ts);
  std::uintptr_t frames[kMaxCapturedFrames];
  const CaptureResult walk =
      capture_stack(entry_fp, bounds, g_flags.nframe.load(std::memory_order_relaxed), frames, &t_walk_memo);
  const std::uint32_t stack_id = stack_of(walk, frames, tc != nullptr ? &tc->recent_stacks : nullptr);
  const auto addr = reinterpret_cast<std::uintptr_t>(ptr);
  if (LG_LIKELY(tc != nullptr && addr_encodable(addr) && size <= kMaxInlineSize)) {
    insert_owned(tc, addr, size, make_meta(size, stack_id));
  } else {
    insert_elsewhere(addr, size, stack_id);
  }
}

bool record_free(void* ptr) noexcept {
  ThreadState& ts = t_state;
  // A free from inside the tracer (a signal handler interrupting it): the tables must not be
  // touched mid-update. A block allocated in the same state was never traced and goes straight
  // back to glibc (a handler that mallocs and frees keeps glibc's own behaviour); any other waits
  // for the next world stop (see defer_handler_free).
  if (ts.mute != 0) {
    for (void*& slot : ts.muted_allocs) {
      if (slot == ptr) {
        slot = nullptr;
        return true;
      }
    }
    return !defer_handler_free(ptr);
  }
  MuteScope mute;
  const auto addr = reinterpret_cast<std::uintptr_t>(ptr);
  ThreadCache* tc = ts.cache != nullptr ? ts.cache : acquire_thread_cache();
  if (LG_LIKELY(tc != nullptr && addr_encodable(addr))) {
    while (!owner_enter(tc)) {
    }
    if (!tracing_enabled()) {
      owner_exit(tc);
      return true;
    }
    BlockEntry e;
    if (LG_LIKELY(tc->table.erase(addr_key(addr), &e))) {
      uncount_own(tc, e);
      owner_exit(tc);
      return true;
    }
    if (only_cache(tc)) {
      owner_exit(tc);
      return true;
    }
    tc->pending[tc->npending] = ptr;
    ++tc->npending;
    tc->pending_bytes += malloc_usable_size(ptr);
    const bool full = tc->npending == kMaxPendingFrees || tc->pending_bytes >= kMaxPendingBytes;
    owner_exit(tc);
    if (full) StoppedWorld world;  // drains every pending list, ours included
    return false;
  }
  // No cache of our own, or an address the per-thread tables cannot hold.
  end_peak_lease();
  if (addr_encodable(addr)) {
    SpinGuard guard(shared_lock());
    BlockEntry e;
    if (shared_cache().table.erase(addr_key(addr), &e)) {
      note_departure(shared_cache(), e);
      shared_cache().bytes.fetch_sub(static_cast<std::int64_t>(meta_size(e.meta)),
                                     std::memory_order_relaxed);
      g_shared_blocks.fetch_sub(1, std::memory_order_relaxed);
      return true;
    }
  }
  ForgottenBlock ignored;
  forget_synchronously(addr, &ignored);
  return true;
}

ForgottenBlock forget_for_realloc(void* old) noexcept {
  ForgottenBlock result;
  ThreadState& ts = t_state;
  if (ts.mute != 0) {
    result.muted = true;
    return result;
  }
  MuteScope mute;
  const auto addr = reinterpret_cast<std::uintptr_t>(old);
  ThreadCache* tc = ts.cache != nullptr ? ts.cache : acquire_thread_cache();
  if (tc != nullptr && addr_encodable(addr)) {
    while (!owner_enter(tc)) {
    }
    if (!tracing_enabled()) {
      owner_exit(tc);
      return result;
    }
    BlockEntry e;
    if (tc->table.erase(addr_key(addr), &e)) {
      uncount_own(tc, e);
      owner_exit(tc);
      return ForgottenBlock{true, meta_size(e.meta), meta_stack(e.meta), key_tag(e.key)};
    }
    const bool alone = only_cache(tc);
    owner_exit(tc);
    if (alone) return result;
    result.foreign = true;
    return result;
  }
  // No table of our own, or an address the tables cannot hold: realloc may keep the address, so
  // the old record must be gone before it returns.
  forget_synchronously(addr, &result);
  return result;
}

void* realloc_while_muted(void* old, std::size_t size) noexcept {
  ThreadState& ts = t_state;
  void** remembered = nullptr;
  for (void*& slot : ts.muted_allocs) {
    if (slot == old) remembered = &slot;
  }
  if (remembered != nullptr) {  // allocated in this state, never traced: glibc's realloc will do
    *remembered = nullptr;
    void* p = __libc_realloc(old, size);
    if (p != nullptr) ts.muted_allocs[ts.muted_next++ % ThreadState::kMutedAllocs] = p;
    return p;
  }
  if (size == 0) {  // glibc frees the block and returns null
    if (!defer_handler_free(old)) __libc_free(old);
    return nullptr;
  }
  const std::size_t usable = malloc_usable_size(old);
  if (size <= usable) return old;  // fits where it is: nothing moves, the trace keeps its size
  void* p = __libc_malloc(size);
  if (p == nullptr) return nullptr;  // errno is ENOMEM and the old block is untouched, as realloc
  std::memcpy(p, old, usable);
  if (!defer_handler_free(old)) __libc_free(old);
  ts.muted_allocs[ts.muted_next++ % ThreadState::kMutedAllocs] = p;
  return p;
}

void restore_after_failed_realloc(void* old, const ForgottenBlock& block) noexcept {
  if (!block.traced || t_state.mute != 0) return;
  MuteScope mute;
  const auto addr = reinterpret_cast<std::uintptr_t>(old);
  const std::uint64_t from = g_departures_from.load(std::memory_order_relaxed);
  if (LG_UNLIKELY(from != 0) && block.tag < from) {  // it never left: take back its departure
    StoppedWorld world;
    bool taken = false;
    world.for_each_cache([&](ThreadCache& tc) {
      for (std::uint32_t i = tc.ndeparted; !taken && i-- > 0;) {
        const BlockEntry& d = tc.departed[i];
        if (key_addr(d.key) == addr && meta_size(d.meta) == block.size && meta_stack(d.meta) == block.stack_id) {
          tc.departed[i] = tc.departed[--tc.ndeparted];
          taken = true;
        }
      }
    });
  }
  ThreadCache* tc = t_state.cache;
  if (tc != nullptr && addr_encodable(addr) && block.size <= kMaxInlineSize) {
    insert_owned(tc, addr, block.size, make_meta(block.size, block.stack_id), block.tag);
  } else {
    insert_elsewhere(addr, block.size, block.stack_id, block.tag);
  }
}

void tracer_start(std::uint32_t nframe) noexcept {
  MuteScope mute;
  world_init();
  set_drain_hook(drain_pending);
  learn_executable();
  g_flags.nframe.store(nframe < 1 ? 1 : (nframe > kMaxCapturedFrames ? kMaxCapturedFrames : nframe),
                       std::memory_order_relaxed);
  g_flags.tracing.store(true, std::memory_order_release);
}

void tracer_clear() noexcept {
  StoppedWorld world;
  discard_peak_lease();
  departures_incomplete();
  world.for_each_cache([](ThreadCache& tc) {
    tc.table.reset();
    tc.bytes.store(0, std::memory_order_relaxed);
    tc.limit.store(0, std::memory_order_relaxed);
  });
  side_table().reset();
  g_side_bytes.store(0, std::memory_order_relaxed);
  g_side_heap_blocks.store(0, std::memory_order_relaxed);
  g_shared_blocks.store(0, std::memory_order_relaxed);
  g_peak.store(0, std::memory_order_relaxed);
}

void tracer_stop() noexcept {
  g_flags.tracing.store(false, std::memory_order_release);
  if (cache_count() > 0 || side_table().size() > 0) tracer_clear();
}

MemoryTotals tracer_totals() noexcept {
  MemoryTotals totals;
  StoppedWorld world;
  end_peak_lease();
  std::int64_t current = g_side_bytes.load(std::memory_order_relaxed);
  std::uint64_t blocks = side_table().size();
  world.for_each_cache([&](ThreadCache& tc) {
    current += tc.bytes.load(std::memory_order_relaxed);
    blocks += tc.table.size();
  });
  std::int64_t peak = g_peak.load(std::memory_order_relaxed);
  if (current > peak) {
    peak = current;
    g_peak.store(peak, std::memory_order_relaxed);
  }
  totals.current = static_cast<std::uint64_t>(current);
  totals.peak = static_cast<std::uint64_t>(peak);
  totals.blocks = blocks;
  return totals;
}

void tracer_reset_peak() noexcept {
  StoppedWorld world;
  discard_peak_lease();
  std::int64_t current = g_side_bytes.load(std::memory_order_relaxed);
  world.for_each_cache([&](ThreadCache& tc) {
    current += tc.bytes.load(std::memory_order_relaxed);
    // Every thread re-checks the peak at its next allocation.
    tc.limit.store(tc.bytes.load(std::memory_order_relaxed), std::memory_order_relaxed);
  });
  g_peak.store(current, std::memory_order_relaxed);
}

TracerCounters tracer_counters() noexcept {
  TracerCounters c;
  c.lost_blocks = g_lost_blocks.load(std::memory_order_relaxed);
  c.lost_bytes = g_lost_bytes.load(std::memory_order_relaxed);
  c.tracer_bytes = raw_bytes_in_use();
  c.stacks = stack_count();
  c.threads = owned_cache_count();
  return c;
}

std::vector<RawTrace> tracer_collect() noexcept {
  StoppedWorld world;
  return collect_locked(world);
}

namespace {
std::size_t count_locked(const StoppedWorld& world) noexcept {
  std::size_t count = side_table().size();
  world.for_each_cache([&](ThreadCache& tc) { count += tc.table.size(); });
  return count;
}

// Every live trace, with the world stopped.
template <class Fn>
void for_each_trace_locked(const StoppedWorld& world, Fn&& fn) {
  world.for_each_cache([&](ThreadCache& tc) {
    tc.table.for_each([&](const BlockEntry& e) {
      fn(RawTrace{key_addr(e.key), meta_size(e.meta), 0, meta_stack(e.meta), static_cast<std::uint32_t>(key_tag(e.key))});
    });
  });
  side_table().for_each([&](const SideEntry& e) { fn(RawTrace{e.addr, e.size, e.domain, e.stack_id, 0}); });
}

std::vector<RawTrace> collect_locked(const StoppedWorld& world) noexcept {
  std::vector<RawTrace> out;
  out.reserve(count_locked(world));
  for_each_trace_locked(world, [&](const RawTrace& t) { out.push_back(t); });
  return out;
}
}  // namespace

std::size_t tracer_collect_into(RawTrace* out, std::size_t capacity) noexcept {
  StoppedWorld world;
  const std::size_t count = count_locked(world);
  if (count > capacity) return count;
  std::size_t n = 0;
  for_each_trace_locked(world, [&](const RawTrace& t) { out[n++] = t; });
  return n;
}

// Stops no thread: each store adopts the new id at its next insert (BlockStore::sync_window), and
// a store that has not is known to hold none of the window's blocks. Only when the ids wrap is the
// world stopped, to clear every tag (once in 2^20 windows). The window lock orders checkpoints
// made by several threads at once.
std::uint64_t tracer_begin_window(std::uint64_t* wraps) noexcept {
  MuteScope mute;
  SpinGuard guard(window_lock());
  std::uint64_t id = g_window.load(std::memory_order_relaxed) + 1;
  if (LG_UNLIKELY(id > kTagMask)) {
    StoppedWorld world;
    id = 1;
    g_window_wraps.fetch_add(1, std::memory_order_relaxed);
    world.for_each_cache([&](ThreadCache& tc) { tc.table.begin_window(id, true); });
  }
  g_window.store(id, std::memory_order_release);
  *wraps = g_window_wraps.load(std::memory_order_relaxed);
  return id;
}

// A sum of per-store counts read without stopping anyone: a store that adopted `window` counts
// its blocks of it, one that has not holds none. What can make that sum too high is a free not yet
// completed (a block another thread freed, queued in its pending list until the next world stop),
// never too low; so a sum of zero is the answer, and any other sum is checked again with the world
// stopped, which completes the queued frees first.
std::int64_t tracer_window_blocks(std::uint64_t window) noexcept {
  auto sum = [window] {
    std::int64_t blocks = shared_cache().table.window_blocks_of(window);
    const std::uint32_t n = cache_count();
    for (std::uint32_t i = 0; i < n; ++i) blocks += cache_at(i)->table.window_blocks_of(window);
    return blocks;
  };
  if (g_window.load(std::memory_order_acquire) != window) return -1;
  const std::int64_t racy = sum();
  // A store adopts a newer window only after reading its id: if the id is still `window` here,
  // no store had left `window` when it was read.
  if (g_window.load(std::memory_order_acquire) != window) return -1;
  if (racy == 0) return 0;
  StoppedWorld world;
  if (g_window.load(std::memory_order_relaxed) != window) return -1;
  return sum();
}

std::uint64_t tracer_window() noexcept { return g_window.load(std::memory_order_relaxed); }
std::uint64_t tracer_window_wraps() noexcept { return g_window_wraps.load(std::memory_order_relaxed); }

void tracer_log_departures(std::uint64_t window, std::uint64_t wraps) noexcept {
  MuteScope mute;
  StoppedWorld world;  // so that no free in flight reads the log's window half set
  g_departures_lost.store(false, std::memory_order_relaxed);
  g_departures_wraps = wraps;
  world.for_each_cache([](ThreadCache& tc) { tc.ndeparted = 0; });
  g_departures_from.store(window, std::memory_order_relaxed);
}

WindowChange tracer_end_departures() noexcept {
  MuteScope mute;
  WindowChange change;
  const std::uint64_t window = g_departures_from.load(std::memory_order_relaxed);
  if (window == 0) {
    change.complete = false;
    return change;
  }
  // Nothing of the window alive (the common case) spares the walk over every table.
  const bool came = tracer_window_blocks(window) != 0;
  StoppedWorld world;  // completes the frees other threads queued, into the logs
  g_departures_from.store(0, std::memory_order_relaxed);
  change.complete = !g_departures_lost.load(std::memory_order_relaxed) &&
                    g_window_wraps.load(std::memory_order_relaxed) == g_departures_wraps;
  std::size_t gone = 0;
  world.for_each_cache([&](ThreadCache& tc) { gone += tc.ndeparted; });
  change.gone.reserve(gone);
  world.for_each_cache([&](ThreadCache& tc) {
    for (std::uint32_t i = 0; i < tc.ndeparted; ++i) {
      const BlockEntry& e = tc.departed[i];
      change.gone.push_back(RawTrace{key_addr(e.key), meta_size(e.meta), 0, meta_stack(e.meta),
                                     static_cast<std::uint32_t>(key_tag(e.key))});
    }
    tc.ndeparted = 0;
    if (tc.departed_capacity > kKeptDeparted) {  // a run that freed much: do not keep its log mapped
      raw_free(tc.departed, tc.departed_capacity * sizeof(BlockEntry));
      tc.departed = nullptr;
      tc.departed_capacity = 0;
    }
  });
  if (came) {
    world.for_each_cache([&](ThreadCache& tc) {
      tc.table.for_each([&](const BlockEntry& e) {
        if (key_tag(e.key) >= window) {
          change.came.push_back(RawTrace{key_addr(e.key), meta_size(e.meta), 0, meta_stack(e.meta),
                                         static_cast<std::uint32_t>(key_tag(e.key))});
        }
      });
    });
  }
  return change;
}

void watch_total(std::uint64_t threshold) noexcept {
  UntracedScope untraced;
  while (g_watch_busy.exchange(true, std::memory_order_acquire)) LG_CPU_RELAX();
  if (g_crossing == nullptr) g_crossing = new Crossing;
  *g_crossing = Crossing{};
  g_watch_threshold.store(threshold == 0 ? 1 : static_cast<std::int64_t>(threshold), std::memory_order_seq_cst);
  g_watch_busy.store(false, std::memory_order_release);
  // Every thread re-checks at its next allocation, so the limits shrink to the watch; a lease
  // (which skips the watch) ends.
  StoppedWorld world;
  end_peak_lease();
  world.for_each_cache([](ThreadCache& tc) {
    tc.limit.store(tc.bytes.load(std::memory_order_relaxed), std::memory_order_relaxed);
  });
}

Crossing end_watch() noexcept {
  UntracedScope untraced;
  while (g_watch_busy.exchange(true, std::memory_order_acquire)) LG_CPU_RELAX();
  g_watch_threshold.store(0, std::memory_order_relaxed);
  Crossing result;
  if (g_crossing != nullptr) result = std::move(*g_crossing);
  g_watch_busy.store(false, std::memory_order_release);
  return result;
}

void tracer_fork_child() noexcept {
  g_watch_busy.store(false, std::memory_order_relaxed);
  departures_incomplete();  // another thread's log may have been copied mid-entry
}

bool tracer_find_block(std::uintptr_t addr, RawTrace* out) noexcept {
  StoppedWorld world;
  bool found = false;
  if (addr_encodable(addr)) {
    world.for_each_cache([&](ThreadCache& tc) {
      if (found) return;
      if (const BlockEntry* e = tc.table.find(addr_key(addr))) {
        *out = RawTrace{addr, meta_size(e->meta), 0, meta_stack(e->meta),
                        static_cast<std::uint32_t>(key_tag(e->key))};
        found = true;
      }
    });
  }
  if (found) return true;
  // An interior pointer: the block whose [start, start + size) spans it.
  world.for_each_cache([&](ThreadCache& tc) {
    if (found) return;
    tc.table.for_each([&](const BlockEntry& e) {
      const std::uintptr_t start = key_addr(e.key);
      if (!found && start <= addr && addr < start + meta_size(e.meta)) {
        *out = RawTrace{start, meta_size(e.meta), 0, meta_stack(e.meta),
                        static_cast<std::uint32_t>(key_tag(e.key))};
        found = true;
      }
    });
  });
  if (found) return true;
  side_table().for_each([&](const SideEntry& e) {
    if (!found && e.domain == 0 && e.addr <= addr && addr < e.addr + (e.size ? e.size : 1)) {
      *out = RawTrace{e.addr, e.size, 0, e.stack_id, 0};
      found = true;
    }
  });
  return found;
}

std::size_t tracer_drop_own_blocks(std::uintptr_t* addrs, std::size_t n) noexcept {
  ThreadState& ts = t_state;
  ThreadCache* tc = ts.cache;
  if (tc == nullptr || ts.mute != 0) return n;
  // Muted, as every owner update: a signal handler's allocation must not change the table while
  // it is read.
  MuteScope mute;
  while (!owner_enter(tc)) {
  }
  std::size_t kept = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uintptr_t a = addrs[i];
    if (!addr_encodable(a) || tc->table.find(addr_key(a)) == nullptr) addrs[kept++] = a;
  }
  owner_exit(tc);
  return kept;
}

std::uint32_t tracer_walk_return_slots(std::uintptr_t entry_fp, std::uint32_t max, std::uintptr_t* ra,
                                       std::uintptr_t* slot) noexcept {
  MuteScope mute;  // the rule cache may read a module's CFI for the first time
  return walk_return_slots(entry_fp, stack_bounds_of(t_state), max, ra, slot);
}

int tracer_track(std::uint64_t domain, std::uintptr_t addr, std::size_t size,
                 std::uintptr_t entry_fp) noexcept {
  if (!tracing_enabled()) return -2;
  ThreadState& ts = t_state;
  // A track() from a signal handler that interrupted the tracer walks without the thread's memo,
  // which the interrupted walk may be halfway through writing.
  WalkMemo* memo = ts.mute == 0 ? &t_walk_memo : nullptr;
  MuteScope mute;
  const StackBounds& bounds = stack_bounds_of(ts);
  std::uintptr_t frames[kMaxCapturedFrames];
  const CaptureResult walk =
      capture_stack(entry_fp, bounds, g_flags.nframe.load(std::memory_order_relaxed), frames, memo);
  const std::uint32_t stack_id = stack_of(walk, frames, nullptr);
  end_peak_lease();
  {
    SpinGuard guard(side_lock());
    if (!tracing_enabled()) return -2;
    SideEntry replaced;
    const auto result = side_table().insert(domain, addr, size, stack_id, &replaced);
    if (result == SideTable::Result::kNoMemory) return -1;
    std::int64_t delta = static_cast<std::int64_t>(size);
    if (result == SideTable::Result::kReplaced) delta -= static_cast<std::int64_t>(replaced.size);
    g_side_bytes.fetch_add(delta, std::memory_order_relaxed);
  }
  update_peak(nullptr, stack_id);
  return 0;
}

int tracer_untrack(std::uint64_t domain, std::uintptr_t addr) noexcept {
  if (!tracing_enabled()) return -2;
  // Muted like every other holder of a tracer lock: a signal handler that frees here must not try
  // to stop the world, which needs the lock this thread holds.
  MuteScope mute;
  end_peak_lease();
  SpinGuard guard(side_lock());
  SideEntry e;
  if (side_table().erase(domain, addr, &e)) {
    g_side_bytes.fetch_sub(static_cast<std::int64_t>(e.size), std::memory_order_relaxed);
  }
  return 0;
}

void begin_untraced() noexcept { ++t_state.untraced; }
void end_untraced() noexcept { --t_state.untraced; }
void begin_own() noexcept {
  ++t_state.untraced;
  ++t_state.own;
}
void end_own() noexcept {
  --t_state.own;
  --t_state.untraced;
}

}  // namespace leakguard::detail
