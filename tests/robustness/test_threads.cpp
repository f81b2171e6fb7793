// Concurrency: many threads allocating and freeing (also each other's blocks) while tracing is
// toggled and snapshots are taken, then an exact count at a quiescent point.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include <leakguard/leakguard.hpp>

namespace {

void keep(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

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
  exchange.drain();
  leakguard::stop();
  EXPECT_EQ(leakguard::get_tracer_stats().untraced_blocks, 0u);
}

TEST(Threads, CountsAreExactAfterConcurrentAllocationAndCrossThreadFrees) {
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
  // Each thread frees the odd blocks of its neighbour: every free crosses threads.
  {
    std::vector<std::thread> freers;
    for (int t = 0; t < kThreads; ++t) {
      freers.emplace_back([&, t] {
        auto& victim = blocks[(t + 1) % kThreads];
        for (int i = 1; i < kPerThread; i += 2) std::free(victim[i]);
      });
    }
    for (auto& f : freers) f.join();
  }
  const auto snap = leakguard::take_snapshot().filter_traces({leakguard::Filter(true, __FILE__, line)});
  std::size_t bytes = 0;
  for (const auto& t : snap.traces()) bytes += t.size;
  EXPECT_EQ(snap.traces().size(), static_cast<std::size_t>(kThreads * kPerThread / 2));
  std::size_t expected = 0;
  for (int t = 0; t < kThreads; ++t) expected += static_cast<std::size_t>(t + 1) * (kPerThread / 2);
  EXPECT_EQ(bytes, expected);
  // The main thread frees the rest: nothing of this line is left.
  for (auto& v : blocks) {
    for (int i = 0; i < kPerThread; i += 2) std::free(v[i]);
  }
  EXPECT_TRUE(leakguard::take_snapshot().filter_traces({leakguard::Filter(true, __FILE__, line)}).traces().empty());
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
    std::thread([&, round] { kept[round] = std::malloc(100); line = __LINE__; }).join();
  }
  EXPECT_EQ(bytes_at(line), 200u * 100u);
  EXPECT_LE(leakguard::get_tracer_stats().threads, 2u);  // exited threads hand their table back
  const std::size_t before_free = leakguard::get_traced_memory().current;
  for (void* p : kept) std::free(p);
  EXPECT_EQ(bytes_at(line), 0u);
  EXPECT_EQ(before_free - leakguard::get_traced_memory().current, 200u * 100u);
  leakguard::stop();
}

}  // namespace
