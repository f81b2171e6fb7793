// leakguard's own heap: where its code's allocations go (symbolizer caches, reports, the plugins'
// bookkeeping), apart from the program's malloc heap.
//
// Why: the leak check scans the program's heap conservatively, and any word there that looks like
// a block's address holds that block. leakguard's own data, mixed into that heap, was the main
// source of such words: the tail of a symbol name over a stale pointer, a cache node in memory
// that a freed buffer of the symbolizer held before, and the leaked block then landing where that
// buffer was. Kept apart, none of it lies in the heap, and the scan skips this heap whole, as it
// never holds the program's pointers.
//
// A reserved range of address space, committed as it fills; size classes with free lists, and
// page runs for big blocks. One lock: a fork hands it over unlocked, and a thread that re-enters
// while holding it (a signal handler) neither waits nor crashes (allocations fall back to glibc,
// frees are queued).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "config.hpp"

namespace leakguard::detail {

struct OwnHeapRange {
  std::uintptr_t lo = 0, hi = 0;
};

// The reserved range: kOwnHeapReserve bytes from g_own_heap_base. Until the first allocation
// reserves it, the base is the top of the address space, where no block can be.
constexpr std::uintptr_t kOwnHeapReserve = std::uintptr_t{64} << 30;
extern std::atomic<std::uintptr_t> g_own_heap_base;

LG_ALWAYS_INLINE bool in_own_heap(const void* p) noexcept {
  return reinterpret_cast<std::uintptr_t>(p) - g_own_heap_base.load(std::memory_order_relaxed) < kOwnHeapReserve;
}

// Null when the heap cannot serve (no address space, or re-entered): the caller uses glibc.
void* own_malloc(std::size_t size) noexcept;
void* own_calloc(std::size_t n, std::size_t size) noexcept;
// `p` must be in the own heap. Null on failure, with `p` untouched.
void* own_realloc(void* p, std::size_t size) noexcept;
void own_free(void* p) noexcept;
std::size_t own_usable_size(const void* p) noexcept;

// The reserved range (empty when there is none), for the leak check to skip.
OwnHeapRange own_heap_range() noexcept;
// Bytes in blocks handed out now, for tests.
std::size_t own_heap_live_bytes() noexcept;
// Bytes of freed page runs kept mapped for reuse (at most 16 MiB, or the newest run up to 64 MiB), for tests.
std::size_t own_heap_resident_free_bytes() noexcept;

}  // namespace leakguard::detail
