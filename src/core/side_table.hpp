// Blocks outside the per-thread tables: custom-domain blocks reported with track() (pools,
// arenas, GPU memory) and the rare heap block the 16-byte encoding cannot hold (an address above
// 2^48 or a size above 1 TiB). Keyed by (domain, address), guarded by one lock: nothing here is
// on the malloc fast path.
#pragma once
#include <cstddef>
#include <cstdint>

#include "spinlock.hpp"

namespace leakguard::detail {

struct SideEntry {
  std::uint64_t domain;  // 0 = empty slot is marked by addr == 0 && size == 0 && !used
  std::uintptr_t addr;
  std::uint64_t size;
  std::uint32_t stack_id;
  std::uint32_t used;
};

class SideTable {
 public:
  enum class Result { kInserted, kReplaced, kNoMemory };
  Result insert(std::uint64_t domain, std::uintptr_t addr, std::uint64_t size,
                std::uint32_t stack_id, SideEntry* replaced) noexcept;
  bool erase(std::uint64_t domain, std::uintptr_t addr, SideEntry* out) noexcept;
  const SideEntry* find(std::uint64_t domain, std::uintptr_t addr) const noexcept;
  void reset() noexcept;
  std::size_t size() const noexcept { return count_; }
  std::size_t memory_bytes() const noexcept { return capacity_ * sizeof(SideEntry); }
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (std::size_t i = 0; i < capacity_; ++i) {
      if (slots_[i].used) fn(slots_[i]);
    }
  }

 private:
  std::size_t home(std::uint64_t domain, std::uintptr_t addr) const noexcept;
  bool grow() noexcept;

  SideEntry* slots_ = nullptr;
  std::size_t capacity_ = 0;  // power of two
  std::size_t count_ = 0;
};

// The process-wide instance and its lock.
SideTable& side_table() noexcept;
SpinLock& side_lock() noexcept;

}  // namespace leakguard::detail
