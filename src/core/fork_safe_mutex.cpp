#include "fork_safe_mutex.hpp"

#include <atomic>

namespace leakguard::detail {
namespace {
constexpr int kMaxMutexes = 16;
ForkSafeMutex* g_mutexes[kMaxMutexes];
std::atomic<int> g_count{0};
}  // namespace

ForkSafeMutex::ForkSafeMutex() noexcept {
  const int i = g_count.fetch_add(1);
  if (i == 0) pthread_atfork(nullptr, nullptr, on_fork_child);
  if (i < kMaxMutexes) g_mutexes[i] = this;
}

void ForkSafeMutex::on_fork_child() noexcept {
  const int n = g_count.load() < kMaxMutexes ? g_count.load() : kMaxMutexes;
  for (int i = 0; i < n; ++i) {
    ForkSafeMutex* m = g_mutexes[i];
    if (pthread_mutex_trylock(&m->mutex_) == 0) {
      pthread_mutex_unlock(&m->mutex_);
      continue;
    }
    // Held by a thread the child does not have: start over with a fresh, unlocked mutex.
    m->mutex_ = PTHREAD_MUTEX_INITIALIZER;
    m->broken_ = true;
  }
}

}  // namespace leakguard::detail
