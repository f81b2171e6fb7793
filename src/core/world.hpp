// The registry of thread caches and the "stop the world" protocol that lets one thread read or
// change every cache consistently (snapshots, totals, clearing, cross-thread frees).
//
// Owners bracket each update with busy=1 ... busy=0 and check `stop` in between. The stopper sets
// `stop`, issues membarrier(PRIVATE_EXPEDITED) so every running thread has passed a full barrier,
// then waits for each busy flag to drop. Owners therefore need no atomic read-modify-write and no
// fence on the fast path (when membarrier is unavailable they fall back to a fence). Waiting owners
// spin briefly, then sleep on a futex. Owners never hold a tracer lock while busy, and the stopper
// never calls into libc beyond __libc_malloc/free while the world is stopped, because a stopped
// thread may be holding a libc lock (stdio, the loader) around its malloc call.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "config.hpp"
#include "spinlock.hpp"
#include "thread_cache.hpp"

namespace leakguard::detail {

extern std::atomic<std::uint32_t> g_stop;
// The current leak-check window (tracer_begin_window) and how often its ids wrapped; a cache made
// after a window began starts counting in it.
extern std::atomic<std::uint64_t> g_window;
extern std::atomic<std::uint64_t> g_window_wraps;
extern std::atomic<bool> g_owner_fence;

// Sleeps until the current world stop ends. Keeps errno, like everything the interposers call.
void wait_while_stopped() noexcept;

// Begins an owner update. Returns false if a stop is in progress (the caller waited and must
// re-check its preconditions and retry).
LG_ALWAYS_INLINE bool owner_enter(ThreadCache* tc) noexcept {
  tc->busy.store(1, std::memory_order_relaxed);
  if (LG_UNLIKELY(g_owner_fence.load(std::memory_order_relaxed))) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  } else {
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  if (LG_UNLIKELY(g_stop.load(std::memory_order_acquire) != 0)) {
    tc->busy.store(0, std::memory_order_release);
    wait_while_stopped();
    return false;
  }
  return true;
}
LG_ALWAYS_INLINE void owner_exit(ThreadCache* tc) noexcept {
  tc->busy.store(0, std::memory_order_release);
}

// Sets up membarrier, the thread-exit key and fork handlers. Idempotent; call before tracing.
void world_init() noexcept;

// The calling thread's cache, creating or adopting one on first use. Null when the thread is
// exiting or no cache could be made: the caller then uses the shared cache.
ThreadCache* acquire_thread_cache() noexcept;

// The cache used under shared_lock() by threads without their own.
ThreadCache& shared_cache() noexcept;
SpinLock& shared_lock() noexcept;
// Held while a leak-check window begins (tracer_begin_window); taken before the world lock.
SpinLock& window_lock() noexcept;

// Caches registered so far (owned and pooled); stable pointers, never freed.
std::uint32_t cache_count() noexcept;
ThreadCache* cache_at(std::uint32_t i) noexcept;
std::uint32_t owned_cache_count() noexcept;

// RAII stop of every owner. While alive, the holder may read and modify any cache, the shared
// cache and the side table, and the calling thread's own allocations are untraced.
class StoppedWorld {
 public:
  StoppedWorld() noexcept;
  ~StoppedWorld();
  StoppedWorld(const StoppedWorld&) = delete;
  StoppedWorld& operator=(const StoppedWorld&) = delete;

  template <class Fn>
  void for_each_cache(Fn&& fn) const {
    const std::uint32_t n = cache_count();
    for (std::uint32_t i = 0; i < n; ++i) fn(*cache_at(i));
    fn(shared_cache());
  }

 private:
  int saved_errno_;
  bool alone_ = false;  // no other thread owns a cache: nobody to fence against or wake
};

// Called by the tracer to complete cross-thread frees while the world is stopped.
using DrainFn = void (*)(const StoppedWorld&) noexcept;
void set_drain_hook(DrainFn fn) noexcept;

}  // namespace leakguard::detail
