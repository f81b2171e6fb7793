#include "ptr_table.hpp"

#include "raw_memory.hpp"

namespace leakguard::detail {

std::size_t PtrTable::next_capacity(std::size_t cap) noexcept {
  if (cap < 64) return 64;
  // 64, 96, 128, 192, 256, ...: alternately x1.5 and x4/3.
  const bool power_of_two = (cap & (cap - 1)) == 0;
  return power_of_two ? cap + cap / 2 : cap / 3 * 4;
}

bool PtrTable::grow() noexcept {
  const std::size_t new_cap = next_capacity(capacity_);
  auto* fresh = static_cast<BlockEntry*>(raw_alloc(new_cap * sizeof(BlockEntry)));
  if (fresh == nullptr) return false;
  BlockEntry* old = slots_;
  const std::size_t old_cap = capacity_;
  slots_ = fresh;
  capacity_ = new_cap;
  for (std::size_t i = 0; i < old_cap; ++i) {
    if (old[i].key == 0) continue;
    std::size_t j = home(old[i].key & kAddrMask);
    while (slots_[j].key != 0) j = next(j);
    slots_[j].meta = old[i].meta;
    slots_[j].key = old[i].key;
  }
  raw_free(old, old_cap * sizeof(BlockEntry));
  return true;
}





void PtrTable::reset() noexcept {
  raw_free(slots_, capacity_ * sizeof(BlockEntry));
  slots_ = nullptr;
  capacity_ = 0;
  count_ = 0;
}

std::uint64_t PtrTable::repair() noexcept {
  BlockEntry* old = slots_;
  const std::size_t old_cap = capacity_;
  slots_ = nullptr;
  capacity_ = 0;
  count_ = 0;
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < old_cap; ++i) {
    if (old[i].key == 0) continue;
    BlockEntry dup;
    const std::uint64_t akey = old[i].key & kAddrMask;
    if (find(akey) != nullptr) continue;
    if (insert(akey, key_tag(old[i].key), old[i].meta, &dup) == InsertResult::kInserted) {
      bytes += meta_size(old[i].meta);
    }
  }
  raw_free(old, old_cap * sizeof(BlockEntry));
  return bytes;
}

}  // namespace leakguard::detail
