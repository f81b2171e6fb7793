// A signal handler that allocates, landing anywhere in a traced malloc/free loop (inside the
// tracer's own bookkeeping included), neither deadlocks nor corrupts the counts. A watchdog alarm
// turns a deadlock into a failure instead of a hang.
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <leakguard/leakguard.hpp>

#include "watchdog.hpp"

namespace {

void keep(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

std::atomic<int> g_signals{0};

void on_signal(int) {
  // glibc's malloc itself is not async-signal-safe; the handler's size class is kept filled in
  // the thread cache (see warm_tcache) so that glibc never needs its arena lock here, and only
  // the tracer's behaviour is under test.
  void* p = std::malloc(24);
  keep(p);
  std::free(p);
  void* q = ::operator new(24);
  keep(q);
  ::operator delete(q);
  g_signals.fetch_add(1, std::memory_order_relaxed);
}

void warm_tcache() {
  std::vector<void*> warm;
  for (int i = 0; i < 7; ++i) warm.push_back(std::malloc(24));
  for (void* p : warm) std::free(p);
}

using robust::Watchdog;

// A high-resolution periodic SIGALRM, sent to the process (any thread that does not block it).
class SignalTimer {
 public:
  explicit SignalTimer(long nsec) {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, nullptr);
    sigevent ev{};
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGALRM;
    timer_create(CLOCK_MONOTONIC, &ev, &timer_);
    itimerspec every{};
    every.it_value.tv_nsec = nsec;
    every.it_interval.tv_nsec = nsec;
    timer_settime(timer_, 0, &every, nullptr);
  }
  ~SignalTimer() {
    timer_delete(timer_);
    signal(SIGALRM, SIG_IGN);  // one may still be pending
  }

 private:
  timer_t timer_{};
};

TEST(Signals, HandlerAllocationsInterleavedWithTracedAllocations) {
  Watchdog watchdog(20);
  leakguard::start();
  warm_tcache();
  g_signals = 0;
  const std::size_t base = leakguard::get_traced_memory().current;
  {
    SignalTimer timer(20000);  // every 20 us: lands inside the tracer too
    for (int i = 0; i < 20000000 && g_signals.load() < 5000; ++i) {
      void* p = std::malloc(48 + (i & 31));  // sizes apart from the handler's
      keep(p);
      std::free(p);
    }
  }
  const int fired = g_signals.load();
  EXPECT_EQ(leakguard::get_traced_memory().current, base);
  EXPECT_GT(fired, 1000) << "the timer barely fired; the test proved little";
  EXPECT_EQ(leakguard::get_tracer_stats().untraced_blocks, 0u);
  leakguard::stop();
}

// Signals land on worker threads that free each other's blocks (each 64th cross-thread free makes
// the freeing worker stop the world to complete them) while another thread keeps stopping the
// world for totals and snapshots: a handler may interrupt a thread that is stopped, one that is
// stopping the others, or one half-way through a cross-thread free.
TEST(Signals, HandlersOnThreadsThatStopTheWorldAndFreeAcrossThreads) {
  Watchdog watchdog(20);
  leakguard::start();
  g_signals = 0;
  constexpr int kWorkers = 3;
  std::atomic<bool> done{false};
  std::atomic<void*> mailbox[kWorkers] = {};
  std::atomic<int> line{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kWorkers; ++t) {
    threads.emplace_back([&, t] {
      warm_tcache();
      std::vector<void*> mine;
      for (int i = 0; !done.load(std::memory_order_relaxed); ++i) {
        mine.push_back(std::malloc(40 + (i & 63))); line = __LINE__;
        if (mine.size() == 32) {
          for (void* p : mine) std::free(p);
          mine.clear();
        }
        // Hand a block to the next worker and free the one handed to us.
        void* sent = std::malloc(100);
        if (void* old = mailbox[(t + 1) % kWorkers].exchange(sent)) std::free(old);
      }
      for (void* p : mine) std::free(p);
    });
  }
  threads.emplace_back([&] {
    // Not this thread: symbolization allocates every size glibc has, so a handler here could find
    // its size class empty and need the arena lock this thread holds (glibc's own limit).
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alrm, nullptr);
    while (!done.load(std::memory_order_relaxed)) {
      const auto [current, peak] = leakguard::get_traced_memory();
      EXPECT_LE(current, peak);
      (void)leakguard::take_snapshot();
    }
  });
  {
    SignalTimer timer(50000);
    // The workers take the signals: the main thread only waits.
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alrm, nullptr);
    while (g_signals.load() < 3000) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  done = true;
  for (auto& th : threads) th.join();
  std::vector<std::thread>().swap(threads);  // a block of this file too
  {
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_UNBLOCK, &alrm, nullptr);
  }
  for (auto& box : mailbox) std::free(box.exchange(nullptr));
  // Everything the workers allocated is freed: nothing of theirs is still traced. (glibc keeps
  // each exited thread's TLS vector with its cached stack; that block is glibc's, allocated in
  // dl-tls.c on the line that created the thread.)
  const auto snap = leakguard::take_snapshot().filter_traces(
      {leakguard::Filter(true, __FILE__), leakguard::Filter(false, "*/dl-tls.c", std::nullopt, true)});
  std::string left;
  for (const auto& t : snap.traces()) {
    left += "\n  " + std::to_string(t.size) + " B at";
    for (const auto& f : t.traceback()) left += " " + f.function + ":" + std::to_string(f.lineno);
  }
  EXPECT_TRUE(snap.traces().empty()) << snap.traces().size() << " blocks of this file still traced:" << left;
  EXPECT_EQ(leakguard::get_tracer_stats().untraced_blocks, 0u);
  leakguard::stop();
}

// A handler that frees blocks of another thread (with free, or realloc that moves or frees them)
// while the interrupted thread is inside the custom-domain API (track/untrack hold the tracer's
// side-table lock): every 64th such free makes the handler stop the world, which needs that same
// lock; and a block released while the thread is inside the tracer must still be forgotten.
std::vector<void*>* g_foreign = nullptr;
std::atomic<std::size_t> g_next_foreign{0};
void free_a_foreign_block(int) {
  const std::size_t i = g_next_foreign.fetch_add(1, std::memory_order_relaxed);
  if (i < g_foreign->size()) {
    if (i % 3 == 1) {  // released through realloc: grown (moved) then freed
      void* p = std::realloc((*g_foreign)[i], 4096);
      keep(p);
      std::free(p);
    } else if (i % 3 == 2) {  // realloc to 0 frees
      keep(std::realloc((*g_foreign)[i], 0));
    } else {
      std::free((*g_foreign)[i]);
    }
  }
  g_signals.fetch_add(1, std::memory_order_relaxed);
}

TEST(Signals, HandlerFreesAnotherThreadsBlocksDuringTrackAndUntrack) {
  Watchdog watchdog(20);
  leakguard::start();
  std::vector<void*> foreign(20000);
  std::atomic<int> line{0};
  std::thread([&] {
    for (auto& p : foreign) {
      p = std::malloc(40); line = __LINE__;
    }
  }).join();
  const std::size_t base = leakguard::get_traced_memory().current - foreign.size() * 40;
  g_foreign = &foreign;
  g_next_foreign = 0;
  g_signals = 0;
  struct sigaction sa {};
  sa.sa_handler = free_a_foreign_block;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGALRM, &sa, nullptr), 0);
  sigevent ev{};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGALRM;
  timer_t timer;
  ASSERT_EQ(timer_create(CLOCK_MONOTONIC, &ev, &timer), 0);
  itimerspec every{};
  every.it_value.tv_nsec = 20000;
  every.it_interval.tv_nsec = 20000;
  timer_settime(timer, 0, &every, nullptr);
  constexpr leakguard::Domain kPool = 7;
  for (std::uintptr_t i = 1; g_signals.load(std::memory_order_relaxed) < 3000; ++i) {
    leakguard::untrack(kPool, i * 64);  // not tracked: only the lock is taken
    if (i % 16 == 0) {
      ASSERT_EQ(leakguard::track(kPool, 0x1000, 64), 0);
      ASSERT_EQ(leakguard::untrack(kPool, 0x1000), 0);
    }
  }
  timer_delete(timer);
  signal(SIGALRM, SIG_IGN);
  const std::size_t freed = std::min(g_next_foreign.load(), foreign.size());
  for (std::size_t i = freed; i < foreign.size(); ++i) std::free(foreign[i]);
  // Every foreign block is freed, also those freed while the handler had interrupted the tracer:
  // none of them is traced any more.
  EXPECT_GE(freed, 1000u);
  EXPECT_EQ(leakguard::get_traced_memory().current, base);
  EXPECT_TRUE(leakguard::take_snapshot().filter_traces({leakguard::Filter(true, __FILE__, line)}).traces().empty());
  leakguard::stop();
}

}  // namespace
