// fork() while other threads allocate: the child traces and exits, the parent goes on tracing,
// and no tracer lock is ever left held. A deadlock fails the test through the child's alarm.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include <leakguard/leakguard.hpp>

#include "watchdog.hpp"

namespace {

using robust::keep;

// Blocks allocated before the forks by a thread that has exited: the child inherits their traces
// in a table no thread of its own owns.
constexpr int kInherited = 100;
void* g_inherited[kInherited];
int g_inherited_line = 0;

std::size_t count_at(int line, std::size_t* bytes) {
  const auto snap = leakguard::take_snapshot().filter_traces({leakguard::Filter(true, __FILE__, line)});
  *bytes = 0;
  for (const auto& t : snap.traces()) *bytes += t.size;
  return snap.traces().size();
}

// What a child does after fork: allocate, free, read the tracer, exit 0 if all is well.
[[noreturn]] void child_work() {
  alarm(10);  // a deadlock kills the child with SIGALRM, which the parent reports
  std::vector<void*> blocks;
  for (int i = 0; i < 1000; ++i) blocks.push_back(std::malloc(64));
  for (void* p : blocks) keep(p);
  void* marker = std::malloc(4321); const int line = __LINE__;
  keep(marker);
  bool ok = leakguard::is_tracing();
  const auto snap = leakguard::take_snapshot().filter_traces({leakguard::Filter(true, __FILE__, line)});
  ok = ok && snap.traces().size() == 1 && snap.traces()[0].size == 4321;
  const auto tb = leakguard::get_object_traceback(marker);
  ok = ok && tb.has_value() && tb->attribution_frame().lineno == line;
  // The inherited blocks are all there, exactly, and freeing them in the child forgets them.
  std::size_t bytes = 0;
  ok = ok && count_at(g_inherited_line, &bytes) == kInherited && bytes == kInherited * 77u;
  for (void* p : g_inherited) std::free(p);
  ok = ok && count_at(g_inherited_line, &bytes) == 0 && bytes == 0;
  // A thread in the child works too.
  std::thread([] {
    void* p = std::malloc(10);
    keep(p);
    std::free(p);
  }).join();
  for (void* p : blocks) std::free(p);
  std::free(marker);
  ok = ok && leakguard::get_traced_memory().current < 1000 * 64;
  _exit(ok ? 0 : 1);
}

TEST(Fork, ChildAndParentKeepTracingWhileOtherThreadsAllocate) {
  robust::Watchdog watchdog(30);  // a deadlock in the parent (the child has its own alarm)
  leakguard::start();
  std::thread([] {
    for (auto& p : g_inherited) {
      p = std::malloc(77); g_inherited_line = __LINE__;
    }
  }).join();
  std::atomic<bool> done{false};
  std::vector<std::thread> churners;
  // One thread keeps reading the traces, so forks also land inside symbolization and the
  // source-line cache, whose locks the child must not inherit held.
  churners.emplace_back([&] {
    while (!done.load(std::memory_order_relaxed)) {
      const auto stats = leakguard::take_snapshot().statistics("lineno");
      if (!stats.empty()) (void)leakguard::source_line(stats[0].traceback[0].filename, stats[0].traceback[0].lineno);
    }
  });
  for (int t = 0; t < 3; ++t) {
    churners.emplace_back([&] {
      std::vector<void*> live;
      while (!done.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 100; ++i) live.push_back(std::malloc(16 + i));
        for (void* p : live) std::free(p);
        live.clear();
        (void)leakguard::get_traced_memory();  // world stops, racing with fork
      }
    });
  }
  // Symbolize once in the parent: children inherit the warm cache, so each round is quick.
  (void)leakguard::take_snapshot().statistics("traceback");
  for (int round = 0; round < 15; ++round) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) child_work();
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "round " << round << ": child killed by signal "
                                   << (WIFSIGNALED(status) ? WTERMSIG(status) : 0)
                                   << (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? " (deadlock)" : "");
    ASSERT_EQ(WEXITSTATUS(status), 0) << "round " << round;
    // The parent goes on tracing.
    void* p = std::malloc(77);
    keep(p);
    EXPECT_TRUE(leakguard::get_object_traceback(p).has_value());
    std::free(p);
  }
  done = true;
  for (auto& t : churners) t.join();
  // The children's frees did not touch the parent's traces.
  std::size_t bytes = 0;
  EXPECT_EQ(count_at(g_inherited_line, &bytes), static_cast<std::size_t>(kInherited));
  EXPECT_EQ(bytes, kInherited * 77u);
  for (void* p : g_inherited) std::free(p);
  EXPECT_EQ(count_at(g_inherited_line, &bytes), 0u);
  leakguard::stop();
}

// fork() while another thread switches tracing on and off and others allocate: whatever state
// the fork lands in, the child can use the tracer (starting it if it was off) and exit.
TEST(Fork, ChildrenOfAProcessThatTogglesTracing) {
  robust::Watchdog watchdog(30);
  leakguard::start();
  {  // symbolize in the parent once: the children inherit the warm caches, so each round is quick
    void* p = std::malloc(999);
    (void)leakguard::get_object_traceback(p);
    (void)leakguard::take_snapshot().statistics("lineno");
    std::free(p);
  }
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    for (int i = 0; !done.load(std::memory_order_relaxed); ++i) {
      leakguard::stop();
      leakguard::start(1 + i % 30);
      // A spin lock hands the world to whoever asks first: without a pause, fork() (which takes
      // the same lock to fork in a quiet state) could wait a long time for its turn.
      if (i % 8 == 0) std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  });
  threads.emplace_back([&] {
    std::vector<void*> live;
    while (!done.load(std::memory_order_relaxed)) {
      for (int i = 0; i < 50; ++i) live.push_back(std::malloc(32 + i));
      for (void* p : live) std::free(p);
      live.clear();
    }
  });
  for (int round = 0; round < 10; ++round) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      alarm(10);
      leakguard::start();
      void* p = std::malloc(999);
      keep(p);
      const bool traced = leakguard::get_object_traceback(p).has_value();
      const std::size_t current = leakguard::get_traced_memory().current;
      (void)leakguard::take_snapshot().statistics("lineno");
      std::free(p);
      leakguard::stop();
      _exit(traced && current >= 999 ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "round " << round << ": child killed by signal "
                                   << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    ASSERT_EQ(WEXITSTATUS(status), 0) << "round " << round;
  }
  done = true;
  for (auto& t : threads) t.join();
  leakguard::stop();
}

}  // namespace
