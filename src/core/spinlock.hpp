// The tracer's only lock. It guards short, rare sections (registry changes, stack interning,
// world stops) and never the per-allocation fast path. It never calls into libc while held except
// for mmap, so a fork handler can take every instance and the child can reset them.
#pragma once
#include <sched.h>

#include <atomic>
#include <cstdint>

#include "config.hpp"

namespace leakguard::detail {

class SpinLock {
 public:
  void lock() noexcept {
    for (int spins = 0;; ++spins) {
      if (!locked_.exchange(1, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins < 128) {
          LG_CPU_RELAX();
        } else {
          sched_yield();
        }
      }
    }
  }
  bool try_lock() noexcept { return !locked_.exchange(1, std::memory_order_acquire); }
  void unlock() noexcept { locked_.store(0, std::memory_order_release); }
  // In a fork child only: the holder may have been another thread that no longer exists.
  void reset() noexcept { locked_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<std::uint32_t> locked_{0};
};

class SpinGuard {
 public:
  explicit SpinGuard(SpinLock& lock) noexcept : lock_(lock) { lock_.lock(); }
  ~SpinGuard() { lock_.unlock(); }
  SpinGuard(const SpinGuard&) = delete;
  SpinGuard& operator=(const SpinGuard&) = delete;

 private:
  SpinLock& lock_;
};

}  // namespace leakguard::detail
