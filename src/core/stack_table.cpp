#include "stack_table.hpp"

#include <atomic>
#include <cstring>

#include "block_entry.hpp"
#include "config.hpp"
#include "raw_memory.hpp"
#include "spinlock.hpp"

namespace leakguard::detail {
namespace {

// Mixes capture_stack()'s running hash (a rotate-xor of the frames) so that its bits spread over
// the index. Done here, not during the walk, because a stack equal to the thread's previous one
// never needs it.
std::uint64_t finalize_hash(std::uint64_t h, std::uint32_t n) noexcept {
  h ^= n;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

// Index slots hold the record's address (below 2^48, and 16-byte aligned) together with the top
// 20 bits of its hash: bits 48..63 above the address and bits 44..47 in its 4 low bits, which an
// aligned address leaves zero; 0 is empty. A probe reaches the record without going through the
// id directory and rarely opens a record that is not the one. A stack's place in an index of
// 2^bits slots is the top `bits` bits of its hash, so a growing index places every entry from
// its slot alone, up to 2^20 slots, without reading the records: by then they are out of cache,
// and in a test suite, where every test adds a few stacks, reading them made growth the largest
// part of interning. An index is replaced, never modified in a way a reader could misread:
// growth builds a new one and publishes it, and the old one is kept because a reader may still
// be probing it.
constexpr int kSlotTagShift = 48;
constexpr int kSlotHashBits = 20;
constexpr std::uint64_t kSlotPtrMask = ((std::uint64_t{1} << kSlotTagShift) - 1) & ~std::uint64_t{15};
constexpr std::uint64_t kSlotTagMask = ~kSlotPtrMask;
struct Index {
  int bits;  // capacity is 2^bits
  std::size_t mask() const noexcept { return (std::size_t{1} << bits) - 1; }
  std::atomic<std::uint64_t> slots[1];
};

std::uint64_t slot_tag(std::uint64_t hash) noexcept {
  return ((hash >> kSlotTagShift) << kSlotTagShift) | ((hash >> (64 - kSlotHashBits)) & 15);
}
std::uint64_t slot_hash_top(std::uint64_t slot) noexcept {  // the hash's top 20 bits
  return ((slot >> kSlotTagShift) << 4) | (slot & 15);
}
std::size_t home(const Index* idx, std::uint64_t hash) noexcept {
  return static_cast<std::size_t>(hash >> (64 - idx->bits));
}

constexpr std::size_t kDirChunk = 4096;  // ids per directory chunk
constexpr std::size_t kDirChunks = (kMaxStackId + 1) / kDirChunk;
constexpr std::size_t kArenaChunk = 256 << 10;  // prefaulted whole, so not larger

SpinLock g_lock;
std::atomic<Index*> g_index{nullptr};
std::atomic<StackRecord*>* g_dir[kDirChunks];  // guarded by g_lock for writes
std::atomic<std::uint32_t> g_count{0};         // ids 1..g_count are in use
std::atomic<std::size_t> g_bytes{0};
char* g_arena = nullptr;
std::size_t g_arena_left = 0;

Index* new_index(int bits) {
  const std::size_t capacity = std::size_t{1} << bits;
  const std::size_t bytes = sizeof(Index) + (capacity - 1) * sizeof(std::atomic<std::uint64_t>);
  auto* idx = static_cast<Index*>(raw_alloc_prefaulted(bytes));  // the rehash writes it all over
  if (idx == nullptr) return nullptr;
  idx->bits = bits;
  g_bytes.fetch_add(bytes, std::memory_order_relaxed);
  return idx;
}

bool same_stack(const StackRecord* r, const std::uintptr_t* frames, std::uint32_t n,
                std::uint64_t hash) {
  if (r->hash != hash || r->nframes != n) return false;
  if (n > 8) return std::memcmp(r->frames, frames, n * sizeof(std::uintptr_t)) == 0;
  for (std::uint32_t i = 0; i < n; ++i) {  // short stacks: cheaper than a call to memcmp
    if (r->frames[i] != frames[i]) return false;
  }
  return true;
}

std::uint32_t probe(const Index* idx, const std::uintptr_t* frames, std::uint32_t n,
                    std::uint64_t hash) {
  const std::uint64_t tag = slot_tag(hash);
  for (std::size_t i = home(idx, hash);; i = (i + 1) & idx->mask()) {
    const std::uint64_t slot = idx->slots[i].load(std::memory_order_acquire);
    if (slot == 0) return 0;
    if ((slot & kSlotTagMask) != tag) continue;
    const auto* record = reinterpret_cast<const StackRecord*>(slot & kSlotPtrMask);
    if (same_stack(record, frames, n, hash)) return record->id;
  }
}

void place_slot(Index* idx, std::size_t at, std::uint64_t slot) {
  std::size_t i = at;
  while (idx->slots[i].load(std::memory_order_relaxed) != 0) i = (i + 1) & idx->mask();
  idx->slots[i].store(slot, std::memory_order_release);
}

void place(Index* idx, const StackRecord* record) {
  place_slot(idx, home(idx, record->hash), slot_tag(record->hash) | reinterpret_cast<std::uintptr_t>(record));
}

// Every entry of `from` into the larger, empty `to`, in slot order.
void rehash(const Index* from, Index* to) {
  for (std::size_t i = 0; i <= from->mask(); ++i) {
    const std::uint64_t slot = from->slots[i].load(std::memory_order_relaxed);
    if (slot == 0) continue;
    const std::size_t at = to->bits <= kSlotHashBits
                               ? static_cast<std::size_t>(slot_hash_top(slot) >> (kSlotHashBits - to->bits))
                               : home(to, reinterpret_cast<const StackRecord*>(slot & kSlotPtrMask)->hash);
    place_slot(to, at, slot);
  }
}

StackRecord* arena_new(std::uint32_t n) {
  const std::size_t bytes =
      (offsetof(StackRecord, frames) + n * sizeof(std::uintptr_t) + 15) & ~std::size_t{15};
  if (bytes > g_arena_left) {
    const std::size_t chunk = bytes > kArenaChunk ? bytes : kArenaChunk;
    g_arena = static_cast<char*>(raw_alloc_prefaulted(chunk));
    if (g_arena == nullptr) {
      g_arena_left = 0;
      return nullptr;
    }
    g_arena_left = chunk;
    g_bytes.fetch_add(chunk, std::memory_order_relaxed);
  }
  auto* r = reinterpret_cast<StackRecord*>(g_arena);
  g_arena += bytes;
  g_arena_left -= bytes;
  return r;
}

std::uint32_t insert_locked(const std::uintptr_t* frames, std::uint32_t n, std::uint64_t hash) {
  Index* idx = g_index.load(std::memory_order_relaxed);
  if (idx != nullptr) {
    if (std::uint32_t id = probe(idx, frames, n, hash)) return id;
  }
  const std::uint32_t id = g_count.load(std::memory_order_relaxed) + 1;
  if (id > kMaxStackId) return 0;
  // Keep the index at most half full.
  if (idx == nullptr || (id + 1) * 2 > idx->mask() + 1) {
    Index* bigger = new_index(idx == nullptr ? 15 : idx->bits + 1);
    if (bigger == nullptr) return 0;
    if (idx != nullptr) rehash(idx, bigger);
    g_index.store(bigger, std::memory_order_release);
    idx = bigger;
  }
  std::atomic<StackRecord*>*& chunk = g_dir[id / kDirChunk];
  if (chunk == nullptr) {
    chunk = static_cast<std::atomic<StackRecord*>*>(
        raw_alloc_prefaulted(kDirChunk * sizeof(std::atomic<StackRecord*>)));
    if (chunk == nullptr) return 0;
    g_bytes.fetch_add(kDirChunk * sizeof(std::atomic<StackRecord*>), std::memory_order_relaxed);
  }
  StackRecord* r = arena_new(n);
  if (r == nullptr) return 0;
  r->hash = hash;
  r->id = id;
  r->nframes = n;
  std::memcpy(r->frames, frames, n * sizeof(std::uintptr_t));
  chunk[id % kDirChunk].store(r, std::memory_order_release);
  g_count.store(id, std::memory_order_release);
  place(idx, r);
  return id;
}

}  // namespace

std::uint32_t intern_stack(const std::uintptr_t* frames, std::uint32_t nframes,
                           std::uint64_t running_hash) noexcept {
  const std::uint64_t hash = finalize_hash(running_hash, nframes);
  if (const Index* idx = g_index.load(std::memory_order_acquire)) {
    if (std::uint32_t id = probe(idx, frames, nframes, hash)) return id;
  }
  SpinGuard guard(g_lock);
  return insert_locked(frames, nframes, hash);
}

const StackRecord* stack_record(std::uint32_t id) noexcept {
  if (id == 0 || id > g_count.load(std::memory_order_acquire)) return nullptr;
  return g_dir[id / kDirChunk][id % kDirChunk].load(std::memory_order_acquire);
}

std::size_t stack_count() noexcept { return g_count.load(std::memory_order_relaxed); }
std::size_t stack_table_bytes() noexcept { return g_bytes.load(std::memory_order_relaxed); }

void stack_table_fork_prepare() noexcept { g_lock.lock(); }
void stack_table_fork_parent() noexcept { g_lock.unlock(); }
void stack_table_fork_child() noexcept { g_lock.reset(); }

}  // namespace leakguard::detail
