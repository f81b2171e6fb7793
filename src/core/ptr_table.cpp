#include "ptr_table.hpp"

#include <atomic>

#include "raw_memory.hpp"

namespace leakguard::detail {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

// A large segment is touched at random: huge pages spare most of its TLB misses.
BlockEntry* map_slots(std::size_t cap) noexcept {
  const std::size_t bytes = cap * sizeof(BlockEntry);
  // Filled at once by a resize or split, at slots spread over all of it.
  return static_cast<BlockEntry*>(bytes >= kHugePage ? raw_alloc_huge(bytes) : raw_alloc_prefaulted(bytes));
}

// Keeps the compiler from moving stores across it. A fork child repairs a table whose owner it
// interrupted (PtrTable::repair), so each step of a resize must leave every entry findable: the
// old storage is named in `retired` before anything changes, and freed only after the new one is
// published.
inline void order() noexcept { std::atomic_signal_fence(std::memory_order_seq_cst); }

}  // namespace

void PtrSegment::publish(const PtrSegment& fresh) noexcept {
  // Growing: the new, larger array first. Shrinking (a split): the smaller capacity first. Either
  // way a copy taken between the two stores reads within the array it names.
  if (fresh.capacity_ >= capacity_) {
    slots_ = fresh.slots_;
    order();
    capacity_ = fresh.capacity_;
  } else {
    capacity_ = fresh.capacity_;
    order();
    slots_ = fresh.slots_;
  }
  count_ = fresh.count_;
}

bool PtrSegment::resize(std::size_t new_cap, Retired* retired) noexcept {
  PtrSegment next;
  next.slots_ = map_slots(new_cap);
  if (next.slots_ == nullptr) return false;
  next.capacity_ = new_cap;
  for (std::size_t i = 0; i < capacity_; ++i) {
    if (slots_[i].key != 0) next.place(slots_[i]);
  }
  BlockEntry* const old = slots_;
  const std::size_t old_cap = capacity_;
  retired->capacity = old_cap;
  retired->slots = old;
  order();
  publish(next);
  order();
  retired->slots = nullptr;
  retired->capacity = 0;
  order();
  raw_free(old, old_cap * sizeof(BlockEntry));
  return true;
}

bool PtrSegment::reserve(std::size_t entries) noexcept {
  std::size_t cap = 64;
  while (entries * 4 > cap * 3) cap = next_capacity(cap);
  if (cap <= capacity_) return true;
  Retired unused;
  return resize(cap, &unused);
}

void PtrSegment::reset() noexcept {
  raw_free(slots_, capacity_ * sizeof(BlockEntry));
  slots_ = nullptr;
  capacity_ = 0;
  count_ = 0;
}

// The single segment becomes kSegments, each sized for the entries it takes plus headroom,
// built aside. Segments 1.. are published first (until then they were empty); the old segment 0,
// retired meanwhile, still holds every entry until its replacement is in place.
void PtrTable::split() noexcept {
  std::size_t counts[kSegments] = {};
  segs_[0].for_each([&](const BlockEntry& e) { ++counts[split_index(e.key & kAddrMask)]; });
  PtrSegment fresh[kSegments];
  for (std::size_t i = 0; i < kSegments; ++i) {
    if (!fresh[i].reserve(counts[i] + counts[i] / 4 + 64)) {
      for (PtrSegment& f : fresh) f.reset();
      return;
    }
  }
  segs_[0].for_each([&](const BlockEntry& e) { fresh[split_index(e.key & kAddrMask)].place(e); });
  BlockEntry* const old = segs_[0].slots_;
  const std::size_t old_cap = segs_[0].capacity_;
  retired_.capacity = old_cap;
  retired_.slots = old;
  order();
  for (std::size_t i = kSegments; i-- > 0;) segs_[i].publish(fresh[i]);
  order();
  split_ = true;
  order();
  retired_.slots = nullptr;
  retired_.capacity = 0;
  order();
  raw_free(old, old_cap * sizeof(BlockEntry));
}

void PtrTable::reset() noexcept {
  for (PtrSegment& s : segs_) s.reset();
  count_ = 0;
  split_ = false;
}

// Every entry of every segment and of a retired array, once each. A segment caught between the
// two stores of a publish may name part of an array only; the retired copy has the rest. Used in a
// fork child only.
std::uint64_t PtrTable::repair() noexcept {
  PtrSegment old[kSegments + 1];
  for (std::size_t i = 0; i < kSegments; ++i) {
    old[i] = segs_[i];
    segs_[i] = PtrSegment{};
  }
  old[kSegments].slots_ = retired_.slots;
  old[kSegments].capacity_ = retired_.slots != nullptr ? retired_.capacity : 0;
  retired_ = PtrSegment::Retired{};
  count_ = 0;
  split_ = false;
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i <= kSegments; ++i) {
    PtrSegment& s = old[i];
    for (std::size_t j = 0; j < s.capacity_; ++j) {
      const BlockEntry& e = s.slots_[j];
      if (e.key == 0) continue;
      BlockEntry dup;
      const std::uint64_t akey = e.key & kAddrMask;
      if (find(akey) != nullptr) continue;
      if (insert(akey, key_tag(e.key), e.meta, &dup) == InsertResult::kInserted) bytes += meta_size(e.meta);
    }
  }
  // The old arrays stay mapped: a segment caught in the middle of a publish names an array with
  // another array's capacity, so its true size is not known here, and unmapping a wrong size could
  // take a neighbour with it. They are shared with the parent until written, and this only
  // happens to a table whose owner a fork interrupted.
  return bytes;
}

}  // namespace leakguard::detail
