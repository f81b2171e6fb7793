// Concurrency: many threads allocating and freeing (also each other's blocks) while tracing is
// toggled and snapshots are taken, then an exact count at a quiescent point.
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/membarrier.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include <leakguard/leakguard.hpp>

#include "core/world.hpp"
#include "watchdog.hpp"

namespace {

using robust::keep;
using robust::Watchdog;

// A lock-protected hand-off of blocks between threads, so that frees cross threads.
class Exchange {
 public:
  void put(void* p) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (blocks_.size() < 4096) {
      blocks_.push_back(p);
      return;
    }
    std::free(p);
  }
  void* take() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (blocks_.empty()) return nullptr;
    void* p = blocks_.back();
    blocks_.pop_back();
    return p;
  }
  void drain() {
    while (void* p = take()) std::free(p);
  }

 private:
  std::mutex mutex_;
  std::vector<void*> blocks_;
};

TEST(Threads, ChurnWhileTracingTogglesAndSnapshotsAreTaken) {
  Watchdog watchdog(30);
  leakguard::start();
  Exchange exchange;
  std::atomic<bool> done{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < 8; ++t) {
    workers.emplace_back([&, t] {
      unsigned seed = 1234u + static_cast<unsigned>(t);
      std::vector<void*> mine;
      for (int i = 0; i < 30000; ++i) {
        seed = seed * 1103515245u + 12345u;
        const std::size_t size = 1 + (seed >> 16) % 300;
        switch ((seed >> 8) % 4) {
          case 0:
            mine.push_back(std::malloc(size));
            break;
          case 1:
            exchange.put(std::malloc(size));
            break;
          case 2:
            std::free(exchange.take());
            break;
          default:
            if (!mine.empty()) {
              mine.back() = std::realloc(mine.back(), size);
              keep(mine.back());
              if (mine.size() > 64) {
                std::free(mine.back());
                mine.pop_back();
              }
            }
        }
      }
      for (void* p : mine) std::free(p);
    });
  }
  std::thread toggler([&] {
    while (!done.load()) {
      leakguard::stop();
      leakguard::start(4 + static_cast<int>(std::rand() % 20));
      std::this_thread::yield();
    }
  });
  std::thread reader([&] {
    while (!done.load()) {
      const auto [current, peak] = leakguard::get_traced_memory();
      EXPECT_LE(current, peak);
      if (leakguard::is_tracing()) {
        try {
          (void)leakguard::take_snapshot().statistics("lineno");
        } catch (const std::logic_error&) {
          // tracing was switched off between the check and the snapshot
        }
      }
    }
  });
  for (auto& w : workers) w.join();
  done = true;
  toggler.join();
  reader.join();
  // Quiescent, and tracing stays on from here: blocks made now are counted exactly, whatever the
  // churn above left in the tables (blocks from before the last start() are unknown to them).
  leakguard::start();
  const std::size_t before = leakguard::get_traced_memory().current;
  void* fresh[16];
  for (std::size_t i = 0; i < 16; ++i) fresh[i] = std::malloc(1000 + i);
  std::size_t fresh_bytes = 0;
  for (std::size_t i = 0; i < 16; ++i) fresh_bytes += 1000 + i;
  EXPECT_EQ(leakguard::get_traced_memory().current - before, fresh_bytes);
  for (void* p : fresh) std::free(p);
  EXPECT_EQ(leakguard::get_traced_memory().current, before);
  exchange.drain();
  EXPECT_LE(leakguard::get_traced_memory().current, before);
  leakguard::stop();
  EXPECT_EQ(leakguard::get_tracer_stats().untraced_blocks, 0u);
}

TEST(Threads, CountsAreExactAfterConcurrentAllocationAndCrossThreadFrees) {
  Watchdog watchdog(30);
  leakguard::start();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 5000;
  std::vector<std::vector<void*>> blocks(kThreads);
  for (auto& v : blocks) v.reserve(kPerThread);  // no vector growth on the counted line
  std::atomic<int> line{0};
  {
    std::vector<std::thread> workers;
    for (int t = 0; t < kThreads; ++t) {
      workers.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          blocks[t].push_back(std::malloc(static_cast<std::size_t>(t + 1))); line = __LINE__;
        }
      });
    }
    for (auto& w : workers) w.join();  // the allocating threads are gone; their blocks stay
  }
  // Each thread frees the odd blocks of its neighbour (every free crosses threads, and the
  // allocating threads are gone) and reallocates every fourth even one to twice its size, while
  // another thread keeps reading the totals.
  std::atomic<int> realloc_line{0};
  {
    std::atomic<bool> freeing{true};
    std::thread reader([&] {
      while (freeing.load()) {
        const auto [current, peak] = leakguard::get_traced_memory();
        EXPECT_LE(current, peak);
      }
    });
    std::vector<std::thread> freers;
    for (int t = 0; t < kThreads; ++t) {
      freers.emplace_back([&, t] {
        auto& victim = blocks[(t + 1) % kThreads];
        const std::size_t size = static_cast<std::size_t>((t + 1) % kThreads + 1);
        for (int i = 1; i < kPerThread; i += 2) std::free(victim[i]);
        for (int i = 0; i < kPerThread; i += 8) {
          victim[i] = std::realloc(victim[i], 2 * size); realloc_line = __LINE__;
        }
      });
    }
    for (auto& f : freers) f.join();
    freeing = false;
    reader.join();
  }
  // The reallocated blocks moved to the realloc line with their new size.
  {
    const auto moved = leakguard::take_snapshot().filter_traces({leakguard::Filter(true, __FILE__, realloc_line)});
    std::size_t bytes = 0;
    for (const auto& t : moved.traces()) bytes += t.size;
    EXPECT_EQ(moved.traces().size(), static_cast<std::size_t>(kThreads * (kPerThread / 8)));
    std::size_t expected = 0;
    for (int t = 0; t < kThreads; ++t) expected += 2 * static_cast<std::size_t>(t + 1) * (kPerThread / 8);
    EXPECT_EQ(bytes, expected);
  }
  const auto snap = leakguard::take_snapshot().filter_traces({leakguard::Filter(true, __FILE__, line)});
  std::size_t bytes = 0;
  for (const auto& t : snap.traces()) bytes += t.size;
  EXPECT_EQ(snap.traces().size(), static_cast<std::size_t>(kThreads * (kPerThread / 2 - kPerThread / 8)));
  std::size_t expected = 0;
  for (int t = 0; t < kThreads; ++t) {
    expected += static_cast<std::size_t>(t + 1) * (kPerThread / 2 - kPerThread / 8);
  }
  EXPECT_EQ(bytes, expected);
  // The main thread frees the rest: nothing of this line is left.
  for (auto& v : blocks) {
    for (int i = 0; i < kPerThread; i += 2) std::free(v[i]);
  }
  EXPECT_TRUE(leakguard::take_snapshot().filter_traces({leakguard::Filter(true, __FILE__, line)}).traces().empty());
  EXPECT_TRUE(leakguard::take_snapshot().filter_traces({leakguard::Filter(true, __FILE__, realloc_line)}).traces().empty());
  EXPECT_EQ(leakguard::get_tracer_stats().untraced_blocks, 0u);
  leakguard::stop();
}

// Blocks of this file only: creating a thread also makes glibc allocate (its TLS vector).
std::size_t bytes_at(int line) {
  const auto snap = leakguard::take_snapshot().filter_traces({leakguard::Filter(true, __FILE__, line)});
  std::size_t n = 0;
  for (const auto& t : snap.traces()) n += t.size;
  return n;
}

TEST(Threads, ManyShortLivedThreadsReuseTheirTables) {
  leakguard::start();
  std::vector<void*> kept(200);
  std::atomic<int> line{0};
  for (int round = 0; round < 200; ++round) {
    std::thread([&, round] {  // creating a thread makes glibc allocate too, on this line
      kept[round] = std::malloc(100); line = __LINE__;
    }).join();
  }
  EXPECT_EQ(bytes_at(line), 200u * 100u);
  EXPECT_LE(leakguard::get_tracer_stats().threads, 2u);  // exited threads hand their table back
  const std::size_t before_free = leakguard::get_traced_memory().current;
  for (void* p : kept) std::free(p);
  EXPECT_EQ(bytes_at(line), 0u);
  EXPECT_EQ(before_free - leakguard::get_traced_memory().current, 200u * 100u);
  leakguard::stop();
}

// A thread's exit: C++ thread_local destructors and pthread key destructors that run after
// leakguard has handed the thread's table back still allocate and free, and the blocks the thread
// leaves behind stay traced until another thread frees them.
int g_exit_line = 0;
pthread_key_t g_late_key;
void* g_made_at_exit = nullptr;

void late_key_destructor(void* block) {
  std::free(block);  // allocated by this thread while it was running
  g_made_at_exit = std::malloc(333); g_exit_line = __LINE__;
}

struct ThreadLocalThatFrees {
  void* block = nullptr;
  ~ThreadLocalThatFrees() { std::free(block); }
};
thread_local ThreadLocalThatFrees t_local;

TEST(Threads, ExitingThreadsAllocateAndFreeInTheirDestructors) {
  Watchdog watchdog(30);
  leakguard::start();
  // Created after tracing started, so this key's destructor runs after leakguard's own.
  ASSERT_EQ(pthread_key_create(&g_late_key, late_key_destructor), 0);
  std::atomic<int> line{0};
  void* left_behind = nullptr;
  std::thread([&] {
    t_local.block = std::malloc(111);
    pthread_setspecific(g_late_key, std::malloc(222));
    left_behind = std::malloc(444); line = __LINE__;
  }).join();
  // Only the block the thread left behind and the one its key destructor made remain.
  EXPECT_EQ(bytes_at(line), 444u);
  EXPECT_EQ(bytes_at(g_exit_line), 333u);
  const auto snap = leakguard::take_snapshot().filter_traces({leakguard::Filter(true, __FILE__)});
  for (const auto& t : snap.traces()) {
    if (t.size == 111 || t.size == 222) ADD_FAILURE() << "a block freed at thread exit is still traced";
  }
  ASSERT_TRUE(leakguard::get_object_traceback(left_behind).has_value());
  std::free(left_behind);
  std::free(g_made_at_exit);
  EXPECT_EQ(bytes_at(line), 0u);
  EXPECT_EQ(bytes_at(g_exit_line), 0u);
  pthread_key_delete(g_late_key);
  leakguard::stop();
}

// Threads start and exit all the time, concurrently, while others free their blocks and another
// stops the world: tables are handed back (completing pending frees first) and adopted while
// stops are in progress, and every block is accounted for at the end.
TEST(Threads, ThreadsComeAndGoWhileTheWorldIsStopped) {
  Watchdog watchdog(30);
  leakguard::start();
  std::atomic<bool> done{false};
  std::atomic<int> line{0};
  std::mutex mutex;
  std::vector<void*> orphans;  // blocks of exited threads, freed by others
  orphans.reserve(1 << 16);
  std::thread reader([&] {
    while (!done.load()) {
      (void)leakguard::get_traced_memory();
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  });
  std::vector<std::thread> spawners;
  for (int s = 0; s < 3; ++s) {
    spawners.emplace_back([&] {
      for (int round = 0; round < 50; ++round) {
        std::thread([&] {
          void* mine[100];
          for (auto& p : mine) {
            p = std::malloc(48); line = __LINE__;
          }
          std::lock_guard<std::mutex> lock(mutex);
          // Free some of the orphans of earlier threads, leave half of ours behind.
          for (int i = 0; i < 50 && !orphans.empty(); ++i) {
            std::free(orphans.back());
            orphans.pop_back();
          }
          for (int i = 0; i < 100; ++i) {
            if (i % 2 == 0) {
              orphans.push_back(mine[i]);
            } else {
              std::free(mine[i]);
            }
          }
        }).join();
      }
    });
  }
  for (auto& t : spawners) t.join();
  done = true;
  reader.join();
  std::size_t live = 0;
  {
    std::lock_guard<std::mutex> lock(mutex);
    live = orphans.size();
  }
  EXPECT_EQ(bytes_at(line), live * 48);
  for (void* p : orphans) std::free(p);
  EXPECT_EQ(bytes_at(line), 0u);
  EXPECT_LE(leakguard::get_tracer_stats().threads, 2u);
  leakguard::stop();
}

#if defined(__x86_64__)
// The two system calls a world stop may make, counted: seccomp turns membarrier, and a futex call
// on the stop word, into SIGSYS, whose handler counts it and returns -ENOSYS. A filter cannot be
// removed, so this runs in a child process.
std::atomic<int> g_membarriers{0};
std::atomic<int> g_stop_futexes{0};

void count_trapped_call(int, siginfo_t* info, void* context) {
  (info->si_syscall == SYS_membarrier ? g_membarriers : g_stop_futexes).fetch_add(1);
  static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
}

bool trap_world_stop_calls() {
  struct sigaction action {};
  action.sa_sigaction = count_trapped_call;
  action.sa_flags = SA_SIGINFO;
  if (sigaction(SIGSYS, &action, nullptr) != 0) return false;
  const auto word = reinterpret_cast<std::uint64_t>(&leakguard::detail::g_stop);
  const auto low = static_cast<std::uint32_t>(word);
  const auto high = static_cast<std::uint32_t>(word >> 32);
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_membarrier, 6, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_futex, 0, 4),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, low, 0, 2),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0]) + 4),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, high, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
  };
  sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
}

// 0 when every count is as expected; otherwise which step was wrong.
int count_world_stops_calls() {
  if (!trap_world_stop_calls()) return 10;
  { leakguard::detail::StoppedWorld world; }
  (void)leakguard::take_snapshot();
  if (g_membarriers.load() != 0 || g_stop_futexes.load() != 0) return 1;  // alone: none

  int ready[2];
  int release[2];
  if (pipe(ready) != 0 || pipe(release) != 0) return 11;
  std::thread other([&] {
    void* p = std::malloc(64);  // this thread owns a cache from here on
    keep(p);
    char c = 0;
    if (write(ready[1], &c, 1) != 1 || read(release[0], &c, 1) != 1) std::abort();
    std::free(p);
  });
  char c = 0;
  if (read(ready[0], &c, 1) != 1) return 12;
  { leakguard::detail::StoppedWorld world; }
  if (g_membarriers.load() != 1 || g_stop_futexes.load() != 1) return 2;  // one of each
  if (write(release[1], &c, 1) != 1) return 13;
  other.join();  // its cache goes back to the pool before join returns

  const int membarriers = g_membarriers.load();
  const int futexes = g_stop_futexes.load();
  { leakguard::detail::StoppedWorld world; }
  if (g_membarriers.load() != membarriers || g_stop_futexes.load() != futexes) return 3;
  return 0;
}

TEST(Threads, AWorldStopFencesAndWakesOnlyWhenAnotherThreadOwnsACache) {
  Watchdog watchdog(30);
  const long supported = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  if (supported <= 0 || (supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) {
    GTEST_SKIP() << "membarrier(PRIVATE_EXPEDITED) is not available: stops always fence";
  }
  leakguard::start();
  void* mine = std::malloc(32);  // this thread owns a cache
  keep(mine);
  const pid_t pid = fork();
  ASSERT_NE(pid, -1);
  if (pid == 0) _exit(count_world_stops_calls());
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the child ended by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "1: a stop with no other owner made a call; 2: a stop with another owner did not make "
         "exactly one membarrier and one wake; 3: a stop after that owner exited made a call; "
         "10-13: the child could not set up";
  std::free(mine);
  leakguard::stop();
}
#endif

}  // namespace
