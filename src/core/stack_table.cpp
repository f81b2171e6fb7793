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

// Index slots hold the record's address (below 2^48: it is in mmap'ed memory) with the top 16
// bits of its hash above it, so a probe reaches the record without going through the id
// directory; 0 is empty. An index is replaced, never modified in a way a reader could misread:
// growth builds a new one and publishes it, and the old one is kept because a reader may still
// be probing it.
constexpr int kSlotTagShift = 48;
constexpr std::uint64_t kSlotPtrMask = (std::uint64_t{1} << kSlotTagShift) - 1;
struct Index {
  std::size_t mask;
  std::atomic<std::uint64_t> slots[1];
};

constexpr std::size_t kDirChunk = 4096;  // ids per directory chunk
constexpr std::size_t kDirChunks = (kMaxStackId + 1) / kDirChunk;
constexpr std::size_t kArenaChunk = 1 << 20;

SpinLock g_lock;
std::atomic<Index*> g_index{nullptr};
std::atomic<StackRecord*>* g_dir[kDirChunks];  // guarded by g_lock for writes
std::atomic<std::uint32_t> g_count{0};         // ids 1..g_count are in use
std::atomic<std::size_t> g_bytes{0};
char* g_arena = nullptr;
std::size_t g_arena_left = 0;

Index* new_index(std::size_t capacity) {
  const std::size_t bytes = sizeof(Index) + (capacity - 1) * sizeof(std::atomic<std::uint64_t>);
  auto* idx = static_cast<Index*>(raw_alloc(bytes));
  if (idx == nullptr) return nullptr;
  idx->mask = capacity - 1;
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
  const std::uint64_t tag = hash >> kSlotTagShift;
  for (std::size_t i = hash & idx->mask;; i = (i + 1) & idx->mask) {
    const std::uint64_t slot = idx->slots[i].load(std::memory_order_acquire);
    if (slot == 0) return 0;
    if ((slot >> kSlotTagShift) != tag) continue;
    const auto* record = reinterpret_cast<const StackRecord*>(slot & kSlotPtrMask);
    if (same_stack(record, frames, n, hash)) return record->id;
  }
}

void place(Index* idx, const StackRecord* record) {
  std::size_t i = record->hash & idx->mask;
  while (idx->slots[i].load(std::memory_order_relaxed) != 0) i = (i + 1) & idx->mask;
  idx->slots[i].store(((record->hash >> kSlotTagShift) << kSlotTagShift) |
                          reinterpret_cast<std::uintptr_t>(record),
                      std::memory_order_release);
}

StackRecord* arena_new(std::uint32_t n) {
  const std::size_t bytes =
      (offsetof(StackRecord, frames) + n * sizeof(std::uintptr_t) + 15) & ~std::size_t{15};
  if (bytes > g_arena_left) {
    const std::size_t chunk = bytes > kArenaChunk ? bytes : kArenaChunk;
    g_arena = static_cast<char*>(raw_alloc(chunk));
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
  if (idx == nullptr || (id + 1) * 2 > idx->mask + 1) {
    Index* bigger = new_index(idx == nullptr ? 4096 : (idx->mask + 1) * 2);
    if (bigger == nullptr) return 0;
    for (std::uint32_t old = 1; old < id; ++old) place(bigger, stack_record(old));
    g_index.store(bigger, std::memory_order_release);
    idx = bigger;
  }
  std::atomic<StackRecord*>*& chunk = g_dir[id / kDirChunk];
  if (chunk == nullptr) {
    chunk = static_cast<std::atomic<StackRecord*>*>(
        raw_alloc(kDirChunk * sizeof(std::atomic<StackRecord*>)));
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
