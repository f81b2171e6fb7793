// The blocks one thread cache owns: the young ones in a small nursery, searched first, the rest
// in a PtrTable. Most blocks die young (temporaries, loop bodies, a test's own); those never
// touch the table, so their allocation and free cost a store and two compares instead of two
// hash-table updates.
//
// Blocks carry the id of the leak-check window they were allocated in (the key's tag), and the
// store counts its blocks of its window, so "did anything of this window survive?" is a sum over
// threads, whatever the size of the heap. A store learns of a new window lazily: the tracer calls
// sync_window() with the global id before each insert, which starts the count over, so beginning
// a window stops no thread. window() and window_blocks_of() may be read by any thread at any
// time (atomics: the owner publishes the count's reset before the id that makes it count).
//
// Written by one thread at a time, like PtrTable. Every nursery update clears key, then writes
// meta, then key, so a fork child's repair() sees each entry whole or not at all.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "block_entry.hpp"
#include "ptr_table.hpp"

namespace leakguard::detail {

class BlockStore {
 public:
  // The nursery: kSets sets of two blocks, a block's set picked by its address. A full set that
  // gets a block passes its older one on, through a kQueue-entry queue, to the table. A block so
  // stays out of the table until two younger blocks of its set came (about 2 * kSets
  // allocations): the blocks of one test, of a loop body, of a call usually die before that, and
  // their frees find them in their set at once. (A queue of the 8 newest blocks kept
  // only those that died within 8 allocations: in the 1000-test suite, 19 of a test's 31 frees
  // went to the table.)
  static constexpr std::uint32_t kSets = 32;
  // Blocks that left their set wait here, oldest first, before they go to the table: each one's
  // table line is prefetched as it arrives and read kQueue passes later. (With one entry the
  // insert often still waited for the line; 8 entries cost more in the free's search than they
  // saved. Whole program, 11 interleaved rounds: 1 entry 2.00 s, 4 entries 1.87-1.92 s, 8 1.98 s.)
  static constexpr std::uint32_t kQueue = 4;
  static constexpr std::uint32_t kNursery = 2 * kSets + kQueue;  // blocks the nursery holds at most

  struct InsertOutcome {
    bool dropped = false;          // one older entry stopped counting (see below)
    bool lost = false;             // ... because the table could not take it: an untraced block
    std::uint64_t dropped_bytes = 0;
  };
  static constexpr std::uint64_t kCurrentWindow = ~std::uint64_t{0};
  // Adds a block, of the current window unless `tag` says otherwise (a block put back after a
  // failed realloc keeps its own). The outcome says whether an entry stopped counting on the
  // way: a stale record of the same address (a free the tracer never saw) that was replaced, or a
  // block lost because the table could not grow; that entry is then dropped_entry(). (Not in the
  // outcome: a 16-byte outcome comes back in registers, a bigger one through memory on every
  // insert.)
  // Inline, with pass_on() out of line: most inserts find room in their set.
  LG_ALWAYS_INLINE InsertOutcome insert(std::uint64_t akey, std::uint64_t meta,
                                        std::uint64_t tag = kCurrentWindow) noexcept {
    InsertOutcome outcome;
    const std::uint64_t window = window_.load(std::memory_order_relaxed);
    if (tag == kCurrentWindow) tag = window;
    const std::uint32_t s = set_of(akey);
    BlockEntry* set = &nursery_[2 * s];
    const bool same0 = same_block(set[0].key, akey), same1 = same_block(set[1].key, akey);
    std::uint32_t way;
    if (LG_UNLIKELY(same0 | same1)) {
      way = same0 ? 0 : 1;  // a set holds an address once
      outcome = InsertOutcome{true, false, meta_size(set[way].meta)};
      dropped_ = set[way];
      uncount(set[way]);
    } else if (set[0].key == 0) {
      way = 0;
      ++nursery_count_;
    } else if (set[1].key == 0) {
      way = 1;
      ++nursery_count_;
    } else {
      way = (older_ >> s) & 1;
      outcome = pass_on(set[way]);
    }
    // Cleared first: a fork child sees the slot empty or whole (its old block is in the leaving
    // slot by now).
    set[way].key = 0;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    set[way].meta = meta;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    set[way].key = make_key(akey, tag);
    older_ = (older_ & ~(1u << s)) | ((way ^ 1u) << s);
    if (tag == window && tag != 0) add_window_blocks(1);
    return outcome;
  }

  // The entry the last insert that dropped one dropped.
  const BlockEntry& dropped_entry() const noexcept { return dropped_; }

  // Removes akey, returning its entry; the newest record of the address if there are several.
  // False when absent.
  LG_ALWAYS_INLINE bool erase(std::uint64_t akey, BlockEntry* out) noexcept {
    if (LG_UNLIKELY(akey == 0)) return false;  // no block; an empty slot's key would match it
    // Newest first: the address's set, then the block that left it last, then the table.
    BlockEntry* set = &nursery_[2 * set_of(akey)];
    const bool same0 = same_block(set[0].key, akey);
    if (same0 || same_block(set[1].key, akey)) {
      take_from_nursery(set[same0 ? 0 : 1], out);
      return true;
    }
    const std::uint32_t queued = queued_index(akey);
    if (queued != kNursery) {
      take_from_nursery(nursery_[queued], out);
      return true;
    }
    if (!table_.erase(akey, out)) return false;
    uncount(*out);
    return true;
  }

  const BlockEntry* find(std::uint64_t akey) const noexcept {
    if (akey == 0) return nullptr;
    const BlockEntry* set = &nursery_[2 * set_of(akey)];
    for (const BlockEntry* e : {&set[0], &set[1]}) {
      if (same_block(e->key, akey)) return e;
    }
    const std::uint32_t queued = queued_index(akey);
    if (queued != kNursery) return &nursery_[queued];
    return table_.find(akey);
  }

  template <class Fn>
  void for_each(Fn&& fn) const {
    for (const BlockEntry& e : nursery_) {
      if (e.key != 0) fn(e);
    }
    table_.for_each(fn);
  }

  std::size_t size() const noexcept { return nursery_count_ + table_.size(); }
  std::size_t memory_bytes() const noexcept { return table_.memory_bytes(); }

  void reset() noexcept {
    for (BlockEntry& e : nursery_) e = BlockEntry{};
    nursery_count_ = 0;
    older_ = 0;
    queue_head_ = 0;
    window_blocks_.store(0, std::memory_order_relaxed);
    table_.reset();
  }

  // Starts a new window: new blocks carry `window`, and the count starts at zero. With the world
  // stopped. clear_tags first when the ids wrapped, so that no old block can carry a new id.
  void begin_window(std::uint64_t window, bool clear_tags) noexcept {
    if (clear_tags) {
      for (BlockEntry& e : nursery_) e.key &= kAddrMask;
      table_.clear_tags();
    }
    window_blocks_.store(0, std::memory_order_relaxed);
    window_.store(window, std::memory_order_release);
  }
  // Adopts the global window id `current` if it is not this store's yet (see the top). Written by
  // the store's writer, before an insert.
  LG_ALWAYS_INLINE void sync_window(std::uint64_t current) noexcept {
    if (LG_UNLIKELY(window_.load(std::memory_order_relaxed) != current)) begin_window(current, false);
  }
  std::uint64_t window() const noexcept { return window_.load(std::memory_order_acquire); }
  // Blocks of the store's window still in this store.
  std::int64_t window_blocks() const noexcept { return window_blocks_.load(std::memory_order_relaxed); }
  // From any thread: this store's blocks of `window`. A store that has not adopted `window` yet
  // has none (it adopts before its first insert in it). The id is read first, with acquire, so a
  // count read after it is never one of an older window.
  std::int64_t window_blocks_of(std::uint64_t window) const noexcept {
    if (window_.load(std::memory_order_acquire) != window) return 0;
    return window_blocks_.load(std::memory_order_relaxed);
  }

  // In a fork child, for a store whose owner was interrupted mid-update: rebuilds the table,
  // drops nursery entries that a later stage also holds (a block caught half-way through being
  // passed on: the leaving block already in the table, a set's block already leaving), and
  // returns the sum of sizes of what is left.
  std::uint64_t repair() noexcept {
    std::uint64_t bytes = table_.repair();
    nursery_count_ = 0;
    // The queue first, newest to oldest, then the sets: each entry is kept unless a later stage
    // (or, in the queue, a newer entry) holds its address.
    for (std::uint32_t n = 0; n < kNursery; ++n) {
      const std::uint32_t i = n < kQueue ? kLeaving + (queue_head_ + kQueue - 1 - n) % kQueue : n - kQueue;
      BlockEntry& e = nursery_[i];
      if (e.key == 0) continue;
      const std::uint64_t akey = e.key & kAddrMask;
      const std::uint32_t queued = queued_index(akey);
      if (table_.find(akey) != nullptr || (queued != kNursery && queued != i)) {
        e.key = 0;
        continue;
      }
      ++nursery_count_;
      bytes += meta_size(e.meta);
    }
    std::int64_t in = 0;
    for_each([&](const BlockEntry& e) { in += in_window(e) ? 1 : 0; });
    window_blocks_.store(in, std::memory_order_relaxed);
    return bytes;
  }

 private:
  bool in_window(const BlockEntry& e) const noexcept {
    const std::uint64_t window = window_.load(std::memory_order_relaxed);
    return window != 0 && key_tag(e.key) == window;
  }
  // One writer at a time: a load and a store, no read-modify-write.
  void add_window_blocks(std::int64_t d) noexcept {
    window_blocks_.store(window_blocks_.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
  }
  void uncount(const BlockEntry& e) noexcept {
    if (in_window(e)) add_window_blocks(-1);
  }
  static constexpr std::uint32_t kLeaving = 2 * kSets;  // nursery_[2s], [2s + 1]: set s; then the queue
  static std::uint32_t set_of(std::uint64_t akey) noexcept {
    // akey counts 16-byte granules: neighbouring blocks fall in different sets.
    return static_cast<std::uint32_t>(akey ^ (akey >> 5)) & (kSets - 1);
  }
  static bool same_block(std::uint64_t key, std::uint64_t akey) noexcept {
    return ((key ^ akey) << kTagBits) == 0;  // the address bits only; akey != 0, so never an empty slot
  }
  // The nursery index of the queue's newest entry for akey, or kNursery.
  std::uint32_t queued_index(std::uint64_t akey) const noexcept {
    for (std::uint32_t n = 1; n <= kQueue; ++n) {
      const std::uint32_t i = kLeaving + (queue_head_ + kQueue - n) % kQueue;
      if (same_block(nursery_[i].key, akey)) return i;
    }
    return kNursery;
  }
  // A full set's older block leaves it: the queue's oldest block goes to the table (its table
  // line was prefetched kQueue passes ago, so the insert rarely waits for a miss) and this one
  // takes its place.
  LG_NOINLINE InsertOutcome pass_on(const BlockEntry& leaving) noexcept {
    InsertOutcome outcome;
    BlockEntry& queue = nursery_[kLeaving + queue_head_];
    queue_head_ = (queue_head_ + 1) % kQueue;
    if (queue.key != 0) {
      BlockEntry replaced;
      const auto result = table_.insert(queue.key & kAddrMask, key_tag(queue.key), queue.meta, &replaced);
      if (result == PtrTable::InsertResult::kReplaced) {
        outcome = InsertOutcome{true, false, meta_size(replaced.meta)};
        dropped_ = replaced;
        uncount(replaced);
      } else if (result == PtrTable::InsertResult::kNoMemory) {
        outcome = InsertOutcome{true, true, meta_size(queue.meta)};
        dropped_ = queue;
        uncount(queue);
      }
    } else {
      ++nursery_count_;
    }
    queue.key = 0;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    queue.meta = leaving.meta;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    queue.key = leaving.key;
    table_.prefetch(leaving.key & kAddrMask);
    return outcome;
  }
  void take_from_nursery(BlockEntry& e, BlockEntry* out) noexcept {
    take_entry(e, out);
    e.key = 0;
    --nursery_count_;
    uncount(*out);
  }

  BlockEntry nursery_[kNursery] = {};
  BlockEntry dropped_ = {};
  std::uint32_t older_ = 0;  // bit s: which block of set s came first
  std::uint32_t nursery_count_ = 0;
  std::uint32_t queue_head_ = 0;  // the queue's oldest entry (the next to go to the table)
  std::atomic<std::uint64_t> window_{0};        // id new blocks get; 0: no window
  std::atomic<std::int64_t> window_blocks_{0};  // blocks of window_ in this store
  PtrTable table_;
};

}  // namespace leakguard::detail
