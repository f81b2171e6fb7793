// Open-addressing map from block address to BlockEntry, written by one thread at a time (its
// owner, or anyone while the world is stopped). Linear probing with backward-shift deletion keeps
// probes short without tombstones; capacities step by 1.5x/1.33x so a table of N live blocks
// costs 21-32 bytes per block instead of a power of two's 21-43.
//
// Shaped for locality (issue 7). A program's heap is touched in address order far more often than
// at random: glibc carves new blocks one after the other, and the blocks of one object (a map
// node, its key, its vector) lie side by side. A hash of the whole address scattered each of
// those over the table, and in a large table every insert and erase was a cache and TLB miss
// (the prototype's whole-program cost). Here the address is cut into 512-byte regions: a region
// hashes to a random base, and its blocks take the slots after it in address order (one 32-byte
// granule per slot: two live glibc blocks are always at least 32 bytes apart). Neighbouring
// blocks therefore share a cache line of the table, and a run of allocations walks the table as
// it walks the heap.
//
// A table past kSplitSlots is split into kSegments segments by the region's hash, each growing on
// its own: a growth then maps only a sixteenth of the table again, so the old and new copies held
// together during a rehash no longer double the tracer's peak memory. Segments of 2 MiB and up ask
// for transparent huge pages, which spare the TLB misses of a large table.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "block_entry.hpp"
#include "config.hpp"

namespace leakguard::detail {

// One linear-probing table (a whole small PtrTable, or one segment of a large one).
class PtrSegment {
 public:
  // Storage a resize is replacing: kept whole, and named here, until the new storage is
  // published, so that a fork child's repair finds every entry whatever instant it was copied at.
  struct Retired {
    BlockEntry* slots = nullptr;
    std::size_t capacity = 0;
  };

  enum class InsertResult { kInserted, kReplaced, kNoMemory };
  // Blocks of one region (2^kWindowBits granules of 32 bytes) take consecutive slots.
  static constexpr int kWindowBits = 4;
  static constexpr std::uint64_t kWindow = std::uint64_t{1} << kWindowBits;
  // Below this capacity (64 KiB of slots) a full segment quadruples: every process traces its
  // static initialisation into the main thread's table, and growing a few thousand blocks by the
  // fine steps took 15 resizes, each mapping, copying and unmapping (~0.15 ms a process, before
  // main). Past it the fine steps keep the bytes per block low.
  static constexpr std::size_t kQuickGrowthSlots = std::size_t{1} << 12;

  static std::uint64_t region_hash(std::uint64_t akey) noexcept {
    return (akey >> (1 + kWindowBits)) * 0x9E3779B97F4A7C15ull;
  }

  InsertResult insert(std::uint64_t akey, std::uint64_t tag, std::uint64_t meta, BlockEntry* replaced,
                      Retired* retired) noexcept;
  bool erase(std::uint64_t akey, BlockEntry* out) noexcept;
  const BlockEntry* find(std::uint64_t akey) const noexcept;
  void prefetch(std::uint64_t akey) const noexcept {
    if (capacity_ != 0) __builtin_prefetch(&slots_[home(akey)], 1, 3);
  }

  std::size_t size() const noexcept { return count_; }
  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t memory_bytes() const noexcept { return capacity_ * sizeof(BlockEntry); }
  void reset() noexcept;
  // Sizes an empty segment for `entries` (for a split). False without memory.
  bool reserve(std::size_t entries) noexcept;
  // Publishes `fresh`'s storage in place of this one's (whose storage the caller has retired).
  // The two words are stored in an order that keeps every intermediate state in bounds.
  void publish(const PtrSegment& fresh) noexcept;
  void clear_tags() noexcept {
    for (std::size_t i = 0; i < capacity_; ++i) {
      if (slots_[i].key != 0) slots_[i].key &= kAddrMask;
    }
  }
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (std::size_t i = 0; i < capacity_; ++i) {
      if (slots_[i].key != 0) fn(slots_[i]);
    }
  }
  // Inserts an entry known to be absent, into room known to be there (growth, split, repair).
  void place(const BlockEntry& e) noexcept {
    std::size_t j = home(e.key & kAddrMask);
    while (slots_[j].key != 0) j = next(j);
    slots_[j].meta = e.meta;
    slots_[j].key = e.key;
    ++count_;
  }

 private:
  // The region's base (from the hash bits below the segment number) plus the block's granule
  // within the region.
  std::size_t region_base(std::uint64_t akey) const noexcept {
    const std::uint64_t below_segment = region_hash(akey) << 4;
    return static_cast<std::size_t>((static_cast<unsigned __int128>(below_segment) * capacity_) >> 64);
  }
  // The slot of akey's granule, given its region's base.
  std::size_t home_at(std::size_t base, std::uint64_t akey) const noexcept {
    const std::size_t i = base + static_cast<std::size_t>((akey >> 1) & (kWindow - 1));
    return i >= capacity_ ? i - capacity_ : i;
  }
  std::size_t home(std::uint64_t akey) const noexcept { return home_at(region_base(akey), akey); }
  std::size_t next(std::size_t i) const noexcept { return i + 1 == capacity_ ? 0 : i + 1; }
  static std::size_t next_capacity(std::size_t cap) noexcept {
    if (cap < 64) return 64;
    // 64, 96, 128, 192, 256, ...: alternately x1.5 and x4/3.
    const bool power_of_two = (cap & (cap - 1)) == 0;
    return power_of_two ? cap + cap / 2 : cap / 3 * 4;
  }
  // The capacity a full table grows to (see kQuickGrowthSlots).
  static std::size_t grown_capacity(std::size_t cap) noexcept {
    return cap >= 64 && cap < kQuickGrowthSlots ? cap * 4 : next_capacity(cap);
  }
  bool resize(std::size_t new_cap, Retired* retired) noexcept;
  friend class PtrTable;

  BlockEntry* slots_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t count_ = 0;
};

class PtrTable {
 public:
  using InsertResult = PtrSegment::InsertResult;
  static constexpr int kSegmentBits = 4;
  static constexpr std::size_t kSegments = std::size_t{1} << kSegmentBits;
  // A table is split when its single segment would grow past this many slots (1 MiB).
  static constexpr std::size_t kSplitSlots = std::size_t{1} << 16;

  // Starts empty with no storage; the first insert allocates.
  PtrTable() = default;
  PtrTable(const PtrTable&) = delete;
  PtrTable& operator=(const PtrTable&) = delete;

  // Inserts akey; an existing entry for the same address (a free the tracer never saw) is
  // overwritten and returned in *replaced.
  InsertResult insert(std::uint64_t akey, std::uint64_t tag, std::uint64_t meta, BlockEntry* replaced) noexcept {
    if (LG_UNLIKELY(!split_) && segs_[0].capacity() >= kSplitSlots &&
        (segs_[0].size() + 1) * 4 > segs_[0].capacity() * 3) {
      split();  // on failure the single segment grows instead, if it can
    }
    PtrSegment& seg = segment(akey);
    const InsertResult r = seg.insert(akey, tag, meta, replaced, &retired_);
    if (r == InsertResult::kInserted) ++count_;
    return r;
  }
  // Removes akey, returning its entry. False when absent.
  bool erase(std::uint64_t akey, BlockEntry* out) noexcept {
    if (count_ == 0 || !segment(akey).erase(akey, out)) return false;
    --count_;
    return true;
  }
  const BlockEntry* find(std::uint64_t akey) const noexcept {
    return count_ == 0 ? nullptr : segment(akey).find(akey);
  }
  // A hint: starts loading the table line where akey's insert or lookup begins.
  void prefetch(std::uint64_t akey) const noexcept { segment(akey).prefetch(akey); }

  std::size_t size() const noexcept { return count_; }
  std::size_t capacity() const noexcept {
    std::size_t c = 0;
    for (const PtrSegment& s : segs_) c += s.capacity();
    return c;
  }
  std::size_t memory_bytes() const noexcept { return capacity() * sizeof(BlockEntry); }
  // Drops every entry and the storage.
  void reset() noexcept;
  // Rebuilds from the slots, dropping duplicate keys. Used in a fork child for tables whose owner
  // was interrupted mid-update. Returns the sum of sizes of the surviving entries.
  std::uint64_t repair() noexcept;
  // Sets every entry's tag to 0 (the window ids wrapped around).
  void clear_tags() noexcept {
    for (PtrSegment& s : segs_) s.clear_tags();
  }

  template <class Fn>
  void for_each(Fn&& fn) const {
    for (const PtrSegment& s : segs_) s.for_each(fn);
  }

 private:
  static std::size_t split_index(std::uint64_t akey) noexcept {
    return static_cast<std::size_t>(PtrSegment::region_hash(akey) >> (64 - kSegmentBits));
  }
  std::size_t segment_index(std::uint64_t akey) const noexcept { return split_ ? split_index(akey) : 0; }
  PtrSegment& segment(std::uint64_t akey) noexcept { return segs_[segment_index(akey)]; }
  const PtrSegment& segment(std::uint64_t akey) const noexcept { return segs_[segment_index(akey)]; }
  void split() noexcept;

  PtrSegment segs_[kSegments];
  std::size_t count_ = 0;
  bool split_ = false;
  PtrSegment::Retired retired_;  // set only while a resize or split is under way
};

// Inline: the interposers' hot path calls these, and results passed back through memory from an
// out-of-line call stalled store forwarding.
inline PtrSegment::InsertResult PtrSegment::insert(std::uint64_t akey, std::uint64_t tag, std::uint64_t meta,
                                                   BlockEntry* replaced, Retired* retired) noexcept {
  // Load stays at or below 3/4.
  if (LG_UNLIKELY((count_ + 1) * 4 > capacity_ * 3) && !resize(grown_capacity(capacity_), retired)) {
    if (capacity_ == 0 || count_ + 1 >= capacity_) return InsertResult::kNoMemory;
  }
  std::size_t i = home(akey);
  while (slots_[i].key != 0) {
    if ((slots_[i].key & kAddrMask) == akey) {
      *replaced = slots_[i];
      slots_[i].meta = meta;
      slots_[i].key = make_key(akey, tag);
      return InsertResult::kReplaced;
    }
    i = next(i);
  }
  slots_[i].meta = meta;
  slots_[i].key = make_key(akey, tag);
  ++count_;
  return InsertResult::kInserted;
}

inline const BlockEntry* PtrSegment::find(std::uint64_t akey) const noexcept {
  if (count_ == 0) return nullptr;
  for (std::size_t i = home(akey); slots_[i].key != 0; i = next(i)) {
    if ((slots_[i].key & kAddrMask) == akey) return &slots_[i];
  }
  return nullptr;
}

inline bool PtrSegment::erase(std::uint64_t akey, BlockEntry* out) noexcept {
  if (count_ == 0) return false;
  std::size_t i = home(akey);
  for (;; i = next(i)) {
    if (slots_[i].key == 0) return false;
    if ((slots_[i].key & kAddrMask) == akey) break;
  }
  take_entry(slots_[i], out);
  // Backward-shift: pull later members of the cluster into the hole unless that would move them
  // before their home slot. The blocks of one region lie side by side in a cluster and share a
  // base, so the base (two multiplies) is computed once per run of one region, not per entry.
  std::size_t hole = i;
  std::uint64_t run_region = ~std::uint64_t{0};
  std::size_t run_base = 0;
  for (std::size_t j = next(i);; j = next(j)) {
    const std::uint64_t key = slots_[j].key;
    if (key == 0) break;
    const std::uint64_t k = key & kAddrMask;
    if ((k >> (1 + kWindowBits)) != run_region) {
      run_region = k >> (1 + kWindowBits);
      run_base = region_base(k);
    }
    const std::size_t h = home_at(run_base, k);
    const bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
    if (stays) continue;
    // The entry moves: it is whole at j until the copy at the hole is whole (meta before key;
    // the hole's old key, already copied on or being erased, goes first), so a fork child's
    // repair finds it with its own size at one of the two.
    slots_[hole].key = 0;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    slots_[hole].meta = slots_[j].meta;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    slots_[hole].key = key;
    hole = j;
  }
  slots_[hole].key = 0;
  slots_[hole].meta = 0;
  --count_;
  return true;
}

}  // namespace leakguard::detail
