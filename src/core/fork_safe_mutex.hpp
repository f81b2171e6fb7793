// A lock of state off the allocation path: the report-side caches (symbolizer, source lines,
// attribution rule) and the run file.
// fork() copies a mutex as it is, so a child can inherit it locked by a thread that does not exist
// there, and its next snapshot would wait forever. Every ForkSafeMutex is handed back unlocked in
// the child; the state it guarded may have been half-updated, so its owner asks
// lock_and_check_fork() and rebuilds that state when told to.
#pragma once
#include <pthread.h>

namespace leakguard::detail {

class ForkSafeMutex {
 public:
  ForkSafeMutex() noexcept;  // only for objects with static storage duration: never unregistered
  ForkSafeMutex(const ForkSafeMutex&) = delete;
  ForkSafeMutex& operator=(const ForkSafeMutex&) = delete;

  void lock() noexcept { pthread_mutex_lock(&mutex_); }
  void unlock() noexcept { pthread_mutex_unlock(&mutex_); }
  // Locks; returns true (once) when, in a fork child, another thread held the lock at the fork.
  bool lock_and_check_fork() noexcept {
    lock();
    const bool broken = broken_;
    broken_ = false;
    return broken;
  }

 private:
  static void on_fork_child() noexcept;
  pthread_mutex_t mutex_ = PTHREAD_MUTEX_INITIALIZER;
  bool broken_ = false;
};

}  // namespace leakguard::detail
