// The blocks one thread cache owns: the newest few in a small nursery, searched first, the rest
// in a PtrTable. Most blocks die young (temporaries, loop bodies); those never touch the table,
// so their allocation and free cost a store and a short scan instead of two hash-table updates.
//
// Blocks carry the id of the leak-check window they were allocated in (the key's tag), and the
// store counts its blocks of its window, so "did anything of this window survive?" is a sum over
// threads, whatever the size of the heap. A store learns of a new window lazily: the tracer calls
// sync_window() with the global id before each insert, which starts the count over, so beginning
// a window stops no thread. window() and window_blocks_of() may be read by any thread at any
// time (atomics: the owner publishes the count's reset before the id that makes it count).
//
// Written by one thread at a time, like PtrTable. Every nursery update writes meta before key and
// clears key alone, so a fork child's repair() sees each entry whole or not at all.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "block_entry.hpp"
#include "ptr_table.hpp"

namespace leakguard::detail {

class BlockStore {
 public:
  static constexpr std::uint32_t kNursery = 8;

  struct InsertOutcome {
    bool dropped = false;          // one older entry stopped counting (see below)
    bool lost = false;             // ... because the table could not take it: an untraced block
    std::uint64_t dropped_bytes = 0;
  };
  static constexpr std::uint64_t kCurrentWindow = ~std::uint64_t{0};
  // Adds a block, of the current window unless `tag` says otherwise (a block put back after a
  // failed realloc keeps its own). The nursery's oldest entry moves to the table to make room;
  // the outcome says whether an entry stopped counting on the way: a stale record of the same
  // address (a free the tracer never saw) that was replaced, or a block lost because the table
  // could not grow; that entry is then dropped_entry(). (Not in the outcome: a 16-byte outcome
  // comes back in registers, a bigger one through memory on every insert.)
  InsertOutcome insert(std::uint64_t akey, std::uint64_t meta, std::uint64_t tag = kCurrentWindow) noexcept {
    InsertOutcome outcome;
    const std::uint64_t window = window_.load(std::memory_order_relaxed);
    if (tag == kCurrentWindow) tag = window;
    BlockEntry& slot = nursery_[next_];
    next_ = (next_ + 1) % kNursery;
    if (slot.key != 0) {
      BlockEntry replaced;
      const auto result = table_.insert(slot.key & kAddrMask, key_tag(slot.key), slot.meta, &replaced);
      if (result == PtrTable::InsertResult::kReplaced) {
        outcome = InsertOutcome{true, false, meta_size(replaced.meta)};
        dropped_ = replaced;
        uncount(replaced);
      } else if (result == PtrTable::InsertResult::kNoMemory) {
        outcome = InsertOutcome{true, true, meta_size(slot.meta)};
        dropped_ = slot;
        uncount(slot);
      }
    } else {
      ++nursery_count_;
    }
    slot.meta = meta;
    slot.key = make_key(akey, tag);
    if (tag == window && tag != 0) add_window_blocks(1);
    // The entry the next insert moves to the table is known now: its table line is fetched while
    // the program runs and the next stack is walked, so that move does not wait for a miss.
    const std::uint64_t upcoming = nursery_[next_].key;
    if (upcoming != 0) table_.prefetch(upcoming & kAddrMask);
    return outcome;
  }

  // The entry the last insert that dropped one dropped.
  const BlockEntry& dropped_entry() const noexcept { return dropped_; }

  // Removes akey, returning its entry; the newest blocks are looked at first. False when absent.
  bool erase(std::uint64_t akey, BlockEntry* out) noexcept {
    if (LG_UNLIKELY(akey == 0)) return false;  // no block; an empty slot's key would match it
    // The newest block first: a short-lived block is usually freed before the next allocation.
    const std::uint32_t newest = (next_ + kNursery - 1) % kNursery;
    if (((nursery_[newest].key ^ akey) << kTagBits) == 0) {
      take_from_nursery(newest, out);
      return true;
    }
    // Then the nursery entries that hold akey, as a bit mask: one compare per entry and no branch
    // (a block that reached the table was compared with all 8, and the branches cost more than the
    // compares).
    std::uint32_t hits = 0;
#pragma GCC unroll 8
    for (std::uint32_t k = 0; k < kNursery; ++k) {
      hits |= static_cast<std::uint32_t>(((nursery_[k].key ^ akey) << kTagBits) == 0) << k;
    }
    if (hits != 0) {
      // The newest match if several (a stale record of a reused address): rotated so that bit
      // kNursery - 1 is the newest entry, next_ - 1.
      const std::uint32_t aged = ((hits >> next_) | (hits << (kNursery - next_))) & ((1u << kNursery) - 1);
      take_from_nursery((next_ + 31 - static_cast<std::uint32_t>(__builtin_clz(aged))) % kNursery, out);
      return true;
    }
    if (!table_.erase(akey, out)) return false;
    uncount(*out);
    return true;
  }

  const BlockEntry* find(std::uint64_t akey) const noexcept {
    for (const BlockEntry& e : nursery_) {
      if (e.key != 0 && (e.key & kAddrMask) == akey) return &e;
    }
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
    next_ = 0;
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
  // drops nursery entries the table also holds (an eviction caught half-way), and returns the
  // sum of sizes of what is left.
  std::uint64_t repair() noexcept {
    std::uint64_t bytes = table_.repair();
    nursery_count_ = 0;
    for (BlockEntry& e : nursery_) {
      if (e.key == 0) continue;
      if (table_.find(e.key & kAddrMask) != nullptr) {
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
  void take_from_nursery(std::uint32_t i, BlockEntry* out) noexcept {
    *out = nursery_[i];
    nursery_[i].key = 0;
    --nursery_count_;
    uncount(*out);
  }

  BlockEntry nursery_[kNursery] = {};
  BlockEntry dropped_ = {};
  std::uint32_t next_ = 0;
  std::uint32_t nursery_count_ = 0;
  std::atomic<std::uint64_t> window_{0};        // id new blocks get; 0: no window
  std::atomic<std::int64_t> window_blocks_{0};  // blocks of window_ in this store
  PtrTable table_;
};

}  // namespace leakguard::detail
