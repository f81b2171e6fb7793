// Open-addressing map from block address to BlockEntry, written by one thread at a time (its
// owner, or anyone while the world is stopped). Linear probing with backward-shift deletion keeps
// probes short without tombstones; capacities step by 1.5x/1.33x so a table of N live blocks
// costs 21-32 bytes per block instead of a power of two's 21-43.
#pragma once
#include <cstddef>
#include <cstdint>

#include "block_entry.hpp"
#include "config.hpp"

namespace leakguard::detail {

class PtrTable {
 public:
  // Starts empty with no storage; the first insert allocates.
  PtrTable() = default;
  PtrTable(const PtrTable&) = delete;
  PtrTable& operator=(const PtrTable&) = delete;

  enum class InsertResult { kInserted, kReplaced, kNoMemory };
  // Inserts akey; an existing entry for the same address (a free the tracer never saw) is
  // overwritten and returned in *replaced.
  InsertResult insert(std::uint64_t akey, std::uint64_t tag, std::uint64_t meta,
                      BlockEntry* replaced) noexcept;
  // Removes akey, returning its entry. False when absent.
  bool erase(std::uint64_t akey, BlockEntry* out) noexcept;
  const BlockEntry* find(std::uint64_t akey) const noexcept;

  std::size_t size() const noexcept { return count_; }
  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t memory_bytes() const noexcept { return capacity_ * sizeof(BlockEntry); }
  // Drops every entry and the storage.
  void reset() noexcept;
  // Rebuilds from the slots, dropping duplicate keys. Used in a fork child for tables whose owner
  // was interrupted mid-update. Returns the sum of sizes of the surviving entries.
  std::uint64_t repair() noexcept;
  // Sets every entry's tag to 0 (the window ids wrapped around).
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

 private:
  static std::uint64_t hash(std::uint64_t akey) noexcept {
    return akey * 0x9E3779B97F4A7C15ull;
  }
  std::size_t home(std::uint64_t akey) const noexcept {
    return static_cast<std::size_t>((static_cast<unsigned __int128>(hash(akey)) * capacity_) >> 64);
  }
  std::size_t next(std::size_t i) const noexcept { return i + 1 == capacity_ ? 0 : i + 1; }
  bool grow() noexcept;
  static std::size_t next_capacity(std::size_t cap) noexcept;

  BlockEntry* slots_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t count_ = 0;
};

// Inline: the interposers' hot path calls these, and results passed back through memory from an
// out-of-line call stalled store forwarding.
inline PtrTable::InsertResult PtrTable::insert(std::uint64_t akey, std::uint64_t tag, std::uint64_t meta,
                                               BlockEntry* replaced) noexcept {
  // Load stays at or below 3/4.
  if (LG_UNLIKELY((count_ + 1) * 4 > capacity_ * 3) && !grow()) {
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

inline const BlockEntry* PtrTable::find(std::uint64_t akey) const noexcept {
  if (count_ == 0) return nullptr;
  for (std::size_t i = home(akey); slots_[i].key != 0; i = next(i)) {
    if ((slots_[i].key & kAddrMask) == akey) return &slots_[i];
  }
  return nullptr;
}

inline bool PtrTable::erase(std::uint64_t akey, BlockEntry* out) noexcept {
  if (count_ == 0) return false;
  std::size_t i = home(akey);
  for (;; i = next(i)) {
    if (slots_[i].key == 0) return false;
    if ((slots_[i].key & kAddrMask) == akey) break;
  }
  *out = slots_[i];
  // Backward-shift: pull later members of the cluster into the hole unless that would move them
  // before their home slot.
  std::size_t hole = i;
  for (std::size_t j = next(i);; j = next(j)) {
    if (slots_[j].key == 0) break;
    const std::size_t h = home(slots_[j].key & kAddrMask);
    const bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
    if (stays) continue;
    slots_[hole] = slots_[j];
    hole = j;
  }
  slots_[hole].key = 0;
  slots_[hole].meta = 0;
  --count_;
  return true;
}

}  // namespace leakguard::detail
