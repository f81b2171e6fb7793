#include "world.hpp"

#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <new>

#include "modules.hpp"
#include "raw_memory.hpp"
#include "side_table.hpp"
#include "spinlock.hpp"
#include "stack_table.hpp"
#include "tracer.hpp"

namespace leakguard::detail {

__thread ThreadState t_state __attribute__((tls_model("initial-exec"))) = {};

std::atomic<std::uint32_t> g_stop{0};
std::atomic<std::uint64_t> g_window{0};
std::atomic<std::uint64_t> g_window_wraps{0};
std::atomic<bool> g_owner_fence{true};

namespace {
std::atomic<int> g_process_id{0};
}  // namespace

int process_id() noexcept {
  int pid = g_process_id.load(std::memory_order_relaxed);
  if (LG_UNLIKELY(pid == 0)) {
    pid = static_cast<int>(getpid());
    g_process_id.store(pid, std::memory_order_relaxed);
  }
  return pid;
}

namespace {

constexpr std::uint32_t kMaxCaches = 4096;

SpinLock g_world_lock;     // one stopper at a time
SpinLock g_registry_lock;  // cache creation, adoption and release
SpinLock g_shared_lock;
SpinLock g_window_lock;    // window begins; before g_world_lock
ThreadCache* g_caches[kMaxCaches];
std::atomic<std::uint32_t> g_cache_count{0};
std::atomic<std::uint32_t> g_owned{0};
alignas(ThreadCache) unsigned char g_shared_storage[sizeof(ThreadCache)];
ThreadCache* g_shared = nullptr;
std::atomic<DrainFn> g_drain{nullptr};

pthread_key_t g_exit_key;
std::atomic<bool> g_initialised{false};
SpinLock g_init_lock;
bool g_use_membarrier = false;

void futex_wait(std::atomic<std::uint32_t>* addr, std::uint32_t value) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), FUTEX_WAIT_PRIVATE, value, nullptr,
          nullptr, 0);
}
void futex_wake_all(std::atomic<std::uint32_t>* addr) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr,
          nullptr, 0);
}

void heavy_barrier() {
  if (g_use_membarrier && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0) {
    return;
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void release_on_thread_exit(void* arg);

// The prepare handler takes every tracer lock, the walk of the loader's list and the
// initialisation lock first: a fork waits for a walk or an initialisation under way to finish
// instead of copying it half done.
void fork_prepare() {
  modules_fork_prepare();
  g_init_lock.lock();
  g_window_lock.lock();
  g_world_lock.lock();
  g_registry_lock.lock();
  g_shared_lock.lock();
  side_lock().lock();
  stack_table_fork_prepare();
}

void fork_parent() {
  stack_table_fork_parent();
  side_lock().unlock();
  g_shared_lock.unlock();
  g_registry_lock.unlock();
  g_world_lock.unlock();
  g_window_lock.unlock();
  g_init_lock.unlock();
  modules_fork_parent();
}

// Only the forking thread survives. Caches of the others lose their owners; one interrupted in
// the middle of an update is rebuilt from its slots so the child's tables stay exact.
void fork_child() {
  stack_table_fork_child();
  side_lock().reset();
  g_shared_lock.reset();
  g_registry_lock.reset();
  g_world_lock.reset();
  g_window_lock.reset();
  g_init_lock.reset();
  modules_fork_child();
  g_stop.store(0, std::memory_order_relaxed);
  g_process_id.store(0, std::memory_order_relaxed);
  end_peak_lease();  // the holder may be a thread the child does not have; its cache is pooled below
  tracer_fork_child();
  ThreadCache* self = t_state.cache;
  std::uint32_t owned = 0;
  const std::uint32_t n = g_cache_count.load(std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < n; ++i) {
    ThreadCache* tc = g_caches[i];
    if (tc == self) {
      tc->owner_tid = static_cast<pid_t>(syscall(SYS_gettid));
      ++owned;
      continue;
    }
    if (tc->busy.load(std::memory_order_relaxed) != 0) {
      tc->bytes.store(static_cast<std::int64_t>(tc->table.repair()), std::memory_order_relaxed);
      if (tc->npending > kMaxPendingFrees) tc->npending = kMaxPendingFrees;
      tc->busy.store(0, std::memory_order_relaxed);
    }
    tc->state.store(ThreadCache::kPooled, std::memory_order_relaxed);
    tc->owner_tid = 0;
  }
  g_owned.store(owned, std::memory_order_relaxed);
}

}  // namespace

void wait_while_stopped() noexcept {
  const int saved_errno = errno;
  for (int spins = 0; g_stop.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < 200) {
      LG_CPU_RELAX();
    } else {
      futex_wait(&g_stop, 1);
    }
  }
  errno = saved_errno;
}

namespace {
// The handlers must be registered before any fork that can copy a tracer lock held. glibc runs,
// around a fork, only the handlers registered before that fork began, and it lets other threads
// register while it runs a prepare handler; so handlers registered by the first start() while
// another thread forks would miss that fork, and the child would inherit the initialisation lock
// held by a thread it does not have. Hence the load-time constructor below, which runs before the
// program can start a thread; world_init registers too, for a start() from an earlier constructor.
// pthread_once is fork-safe in glibc (a child re-runs a routine a fork interrupted).
pthread_once_t g_fork_handlers_once = PTHREAD_ONCE_INIT;
void register_fork_handlers() {
  ++t_state.mute;  // pthread_atfork allocates
  // Registered early so that, as prepare handlers run in reverse order, ours runs after those of
  // libraries loaded later, which may allocate.
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  --t_state.mute;
}
// After own_heap.cpp's constructor (101), so that its prepare handler still runs after ours.
__attribute__((constructor(102))) void register_fork_handlers_at_load() {
  pthread_once(&g_fork_handlers_once, register_fork_handlers);
}
}  // namespace

void world_init() noexcept {
  if (g_initialised.load(std::memory_order_acquire)) return;
  pthread_once(&g_fork_handlers_once, register_fork_handlers);
  SpinGuard guard(g_init_lock);
  if (g_initialised.load(std::memory_order_relaxed)) return;
  ++t_state.mute;
  g_shared = new (g_shared_storage) ThreadCache;
  g_shared->state.store(ThreadCache::kShared, std::memory_order_relaxed);
  pthread_key_create(&g_exit_key, release_on_thread_exit);
  const long supported = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  if (supported > 0 && (supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 &&
      syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0) {
    g_use_membarrier = true;
    g_owner_fence.store(false, std::memory_order_release);
  }
  --t_state.mute;
  g_initialised.store(true, std::memory_order_release);
}

ThreadCache& shared_cache() noexcept { return *g_shared; }
SpinLock& shared_lock() noexcept { return g_shared_lock; }
SpinLock& window_lock() noexcept { return g_window_lock; }
std::uint32_t cache_count() noexcept { return g_cache_count.load(std::memory_order_acquire); }
ThreadCache* cache_at(std::uint32_t i) noexcept { return g_caches[i]; }
std::uint32_t owned_cache_count() noexcept { return g_owned.load(std::memory_order_relaxed); }
void set_drain_hook(DrainFn fn) noexcept { g_drain.store(fn, std::memory_order_release); }

ThreadCache* acquire_thread_cache() noexcept {
  ThreadState& ts = t_state;
  if (ts.cache != nullptr) return ts.cache;
  if (ts.exiting || !g_initialised.load(std::memory_order_acquire)) return nullptr;
  ++ts.mute;
  ThreadCache* tc = nullptr;
  {
    SpinGuard guard(g_registry_lock);
    const std::uint32_t n = g_cache_count.load(std::memory_order_relaxed);
    for (std::uint32_t i = 0; i < n && tc == nullptr; ++i) {
      if (g_caches[i]->state.load(std::memory_order_relaxed) == ThreadCache::kPooled) tc = g_caches[i];
    }
    if (tc == nullptr && n < kMaxCaches) {
      void* mem = raw_alloc(sizeof(ThreadCache));
      if (mem != nullptr) {
        tc = new (mem) ThreadCache;
        tc->table.begin_window(g_window.load(std::memory_order_relaxed), false);
        tc->index = n;
        g_caches[n] = tc;
        g_cache_count.store(n + 1, std::memory_order_release);
      }
    }
    if (tc != nullptr) {
      tc->owner_tid = static_cast<pid_t>(syscall(SYS_gettid));
      tc->limit.store(0, std::memory_order_relaxed);
      tc->state.store(ThreadCache::kOwned, std::memory_order_release);
      g_owned.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (tc != nullptr) {
    ts.cache = tc;
    pthread_setspecific(g_exit_key, tc);
  }
  --ts.mute;
  return tc;
}

namespace {
void release_on_thread_exit(void* arg) {
  auto* tc = static_cast<ThreadCache*>(arg);
  ThreadState& ts = t_state;
  if (ts.cache != tc) return;
  ++ts.mute;
  if (tc->npending != 0) {
    // Complete this thread's deferred frees before the cache changes hands.
    StoppedWorld world;
  }
  // A pooled cache's limit is reset when adopted, so a lease must not outlive its holder.
  if (g_peak_lease.load(std::memory_order_relaxed) == tc) end_peak_lease();
  ts.cache = nullptr;
  ts.exiting = true;
  {
    SpinGuard guard(g_registry_lock);
    tc->owner_tid = 0;
    tc->state.store(ThreadCache::kPooled, std::memory_order_release);
    g_owned.fetch_sub(1, std::memory_order_relaxed);
  }
  --ts.mute;
}
}  // namespace

// The stop's syscalls (membarrier, futex, sched_yield) may set errno; the caller's is kept.
StoppedWorld::StoppedWorld() noexcept : saved_errno_(errno) {
  ++t_state.mute;
  g_world_lock.lock();
  g_registry_lock.lock();
  g_shared_lock.lock();
  side_lock().lock();
  // Caches change owners only under the registry lock, held now: when the one owned cache is this
  // thread's (or none is), no other thread can be in an owner update or wait for the stop, so
  // the barrier's IPIs and the wake-up's futex call (two system calls a stop, dear in a VM and
  // paid twice a test by the repeated-run rule) are left out.
  alone_ = g_owned.load(std::memory_order_relaxed) == (t_state.cache != nullptr ? 1u : 0u);
  g_stop.store(1, std::memory_order_seq_cst);
  if (!alone_) heavy_barrier();
  const std::uint32_t n = cache_count();
  for (std::uint32_t i = 0; i < n; ++i) {
    for (int spins = 0; g_caches[i]->busy.load(std::memory_order_acquire) != 0; ++spins) {
      if (spins < 1000) {
        LG_CPU_RELAX();
      } else {
        sched_yield();
      }
    }
  }
  if (DrainFn drain = g_drain.load(std::memory_order_acquire)) drain(*this);
}

StoppedWorld::~StoppedWorld() {
  g_stop.store(0, std::memory_order_release);
  if (!alone_) futex_wake_all(&g_stop);
  side_lock().unlock();
  g_shared_lock.unlock();
  g_registry_lock.unlock();
  g_world_lock.unlock();
  --t_state.mute;
  errno = saved_errno_;
}

}  // namespace leakguard::detail
