// A signal handler that allocates, landing anywhere in a traced malloc/free loop (inside the
// tracer's own bookkeeping included), neither deadlocks nor corrupts the counts.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/time.h>

#include <atomic>
#include <cstdlib>
#include <vector>

#include <leakguard/leakguard.hpp>

namespace {

void keep(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

std::atomic<int> g_signals{0};

void on_alarm(int) {
  // glibc's malloc itself is not async-signal-safe; the handler's size class is kept filled in
  // the thread cache (see below) so that glibc never needs its arena lock here, and only the
  // tracer's behaviour is under test.
  void* p = std::malloc(24);
  keep(p);
  std::free(p);
  g_signals.fetch_add(1, std::memory_order_relaxed);
}

TEST(Signals, HandlerAllocationsInterleavedWithTracedAllocations) {
  leakguard::start();
  {  // fill glibc's tcache bin for the handler's size
    std::vector<void*> warm;
    for (int i = 0; i < 7; ++i) warm.push_back(std::malloc(24));
    for (void* p : warm) std::free(p);
  }
  struct sigaction sa {};
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGALRM, &sa, nullptr), 0);
  itimerval every{{0, 20}, {0, 20}};  // every 20 us (a high-resolution timer)
  ASSERT_EQ(setitimer(ITIMER_REAL, &every, nullptr), 0);

  const std::size_t base = leakguard::get_traced_memory().current;
  for (int i = 0; i < 20000000 && g_signals.load() < 5000; ++i) {
    void* p = std::malloc(48 + (i & 31));  // sizes apart from the handler's
    keep(p);
    std::free(p);
  }
  itimerval off{};
  setitimer(ITIMER_REAL, &off, nullptr);
  signal(SIGALRM, SIG_DFL);
  const int fired = g_signals.load();
  EXPECT_EQ(leakguard::get_traced_memory().current, base);
  EXPECT_GT(fired, 1000) << "the timer barely fired; the test proved little";
  leakguard::stop();
}

}  // namespace
