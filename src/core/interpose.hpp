// What every interposed entry point does around the real allocator: record a new block, forget
// a freed one. Shared by interpose_c.cpp and interpose_cxx.cpp.
#pragma once
#include <cstddef>
#include <cstdint>

#include "config.hpp"
#include "own_heap.hpp"
#include "real_alloc.hpp"
#include "thread_cache.hpp"
#include "tracer.hpp"
#include "world.hpp"

namespace leakguard::detail {

// A block for leakguard's own code, from its own heap; null for everyone else's (and when that
// heap cannot serve): glibc's then.
LG_ALWAYS_INLINE void* own_block(std::size_t size) noexcept {
  return LG_UNLIKELY(t_state.own != 0) ? own_malloc(size) : nullptr;
}

LG_ALWAYS_INLINE void* traced(void* p, std::size_t size, std::uintptr_t entry_fp) noexcept {
  if (LG_LIKELY(p != nullptr) && tracing_enabled()) record_alloc(p, size, entry_fp);
  return p;
}

// The common free, inline: a block the calling thread's own cache holds. Anything else (another
// thread's block, one from before tracing, a world stop in progress, a free from inside the
// tracer) takes record_free().
LG_ALWAYS_INLINE bool forget_own_block(void* p) noexcept {
  ThreadState& ts = t_state;
  ThreadCache* tc = ts.cache;
  const auto addr = reinterpret_cast<std::uintptr_t>(p);
  if (LG_UNLIKELY(ts.mute != 0 || tc == nullptr || !addr_encodable(addr))) return false;
  ++ts.mute;  // a signal handler's free must not enter the table while it is being changed
  bool done = false;
  if (LG_LIKELY(owner_enter(tc))) {
    BlockEntry e;
    if (LG_LIKELY(tracing_enabled()) && tc->table.erase(addr_key(addr), &e)) {
      uncount_own(tc, e);
      done = true;
    }
    owner_exit(tc);
  }
  --ts.mute;
  return done;
}

LG_ALWAYS_INLINE void release(void* p) noexcept {
  if (p == nullptr) return;
  if (LG_UNLIKELY(in_own_heap(p))) {  // never traced
    own_free(p);
    return;
  }
  if (tracing_enabled()) {
    // glibc's free reads the chunk's header and writes its first words; a block freed long after
    // its allocation has both out of the cache, as has its table slot. Fetched now, the two
    // misses overlap instead of following each other.
    __builtin_prefetch(static_cast<char*>(p) - sizeof(std::size_t), 1, 3);
    if (!forget_own_block(p) && !record_free(p)) return;
  }
  __libc_free(p);
}

}  // namespace leakguard::detail
