#include "side_table.hpp"

#include "raw_memory.hpp"

namespace leakguard::detail {

std::size_t SideTable::home(std::uint64_t domain, std::uintptr_t addr) const noexcept {
  const std::uint64_t h = (addr ^ (domain * 0xD6E8FEB86659FD93ull)) * 0x9E3779B97F4A7C15ull;
  return static_cast<std::size_t>(h >> 32) & (capacity_ - 1);
}

bool SideTable::grow() noexcept {
  const std::size_t new_cap = capacity_ == 0 ? 64 : capacity_ * 2;
  auto* fresh = static_cast<SideEntry*>(raw_alloc(new_cap * sizeof(SideEntry)));
  if (fresh == nullptr) return false;
  SideEntry* old = slots_;
  const std::size_t old_cap = capacity_;
  slots_ = fresh;
  capacity_ = new_cap;
  for (std::size_t i = 0; i < old_cap; ++i) {
    if (!old[i].used) continue;
    std::size_t j = home(old[i].domain, old[i].addr);
    while (slots_[j].used) j = (j + 1) & (capacity_ - 1);
    slots_[j] = old[i];
  }
  raw_free(old, old_cap * sizeof(SideEntry));
  return true;
}

SideTable::Result SideTable::insert(std::uint64_t domain, std::uintptr_t addr, std::uint64_t size,
                                    std::uint32_t stack_id, SideEntry* replaced) noexcept {
  if ((count_ + 1) * 2 > capacity_ && !grow()) return Result::kNoMemory;
  std::size_t i = home(domain, addr);
  for (; slots_[i].used; i = (i + 1) & (capacity_ - 1)) {
    if (slots_[i].domain == domain && slots_[i].addr == addr) {
      *replaced = slots_[i];
      slots_[i].size = size;
      slots_[i].stack_id = stack_id;
      return Result::kReplaced;
    }
  }
  slots_[i] = SideEntry{domain, addr, size, stack_id, 1};
  ++count_;
  return Result::kInserted;
}

const SideEntry* SideTable::find(std::uint64_t domain, std::uintptr_t addr) const noexcept {
  if (count_ == 0) return nullptr;
  for (std::size_t i = home(domain, addr); slots_[i].used; i = (i + 1) & (capacity_ - 1)) {
    if (slots_[i].domain == domain && slots_[i].addr == addr) return &slots_[i];
  }
  return nullptr;
}

bool SideTable::erase(std::uint64_t domain, std::uintptr_t addr, SideEntry* out) noexcept {
  const SideEntry* found = find(domain, addr);
  if (found == nullptr) return false;
  *out = *found;
  std::size_t hole = static_cast<std::size_t>(found - slots_);
  for (std::size_t j = (hole + 1) & (capacity_ - 1); slots_[j].used; j = (j + 1) & (capacity_ - 1)) {
    const std::size_t h = home(slots_[j].domain, slots_[j].addr);
    const bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
    if (stays) continue;
    slots_[hole] = slots_[j];
    hole = j;
  }
  slots_[hole] = SideEntry{};
  --count_;
  return true;
}

void SideTable::reset() noexcept {
  raw_free(slots_, capacity_ * sizeof(SideEntry));
  slots_ = nullptr;
  capacity_ = 0;
  count_ = 0;
}

SideTable& side_table() noexcept {
  static SideTable table;  // trivially destructible state; never destroyed before exit matters
  return table;
}

SpinLock& side_lock() noexcept {
  static SpinLock lock;
  return lock;
}

}  // namespace leakguard::detail
