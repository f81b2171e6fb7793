// leakguard's own heap against a model: every block keeps its bytes until freed, blocks never
// overlap, sizes and alignment hold, freed memory is reused, and threads may share it.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "core/own_heap.hpp"

namespace leakguard::detail {
namespace {

TEST(OwnHeap, IsReservedBeforeMainAndNamesItsBlocksOnly) {
  const OwnHeapRange range = own_heap_range();
  ASSERT_LT(range.lo, range.hi) << "the range is reserved at load time";
  void* p = own_malloc(100);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(in_own_heap(p));
  int on_the_stack = 0;
  std::vector<int> in_glibcs_heap(10);
  EXPECT_FALSE(in_own_heap(&on_the_stack));
  EXPECT_FALSE(in_own_heap(in_glibcs_heap.data()));
  EXPECT_FALSE(in_own_heap(nullptr));
  own_free(p);
}

TEST(OwnHeap, BlocksKeepTheirBytesAgainstAModel) {
  std::map<char*, std::pair<std::size_t, unsigned char>> live;  // size, fill byte
  std::mt19937 rng(11);
  const std::size_t before = own_heap_live_bytes();
  for (int step = 0; step < 20000; ++step) {
    if (live.size() < 500 && rng() % 3 != 0) {
      // Mostly small, some big (page runs), some zero-sized.
      const std::size_t size = rng() % 10 == 0 ? 32 * 1024 + rng() % (300 * 1024) : rng() % 600;
      auto* p = static_cast<char*>(step % 7 == 0 ? own_calloc(1, size) : own_malloc(size));
      ASSERT_NE(p, nullptr);
      ASSERT_EQ(reinterpret_cast<std::uintptr_t>(p) % 16, 0u);
      ASSERT_GE(own_usable_size(p), size);
      if (step % 7 == 0) {
        ASSERT_TRUE(std::all_of(p, p + size, [](char c) { return c == 0; })) << "calloc zeroes";
      }
      const auto fill = static_cast<unsigned char>(rng());
      std::memset(p, fill, size);
      // No overlap with any live block.
      auto next = live.lower_bound(p);
      if (next != live.end()) {
        ASSERT_LE(p + size, next->first);
      }
      if (next != live.begin()) {
        auto prev = std::prev(next);
        ASSERT_LE(prev->first + prev->second.first, p);
      }
      live[p] = {size, fill};
    } else if (!live.empty()) {
      auto it = live.begin();
      std::advance(it, rng() % live.size());
      char* p = it->first;
      const auto [size, fill] = it->second;
      ASSERT_TRUE(std::all_of(p, p + size, [fill = fill](char c) { return static_cast<unsigned char>(c) == fill; }))
          << "a block changed while it was live";
      live.erase(it);
      if (rng() % 4 == 0) {  // realloc keeps the bytes it can
        const std::size_t to = rng() % 70000;
        auto* q = static_cast<char*>(own_realloc(p, to));
        ASSERT_NE(q, nullptr);
        const std::size_t kept = std::min(size, to);
        ASSERT_TRUE(std::all_of(q, q + kept, [fill = fill](char c) { return static_cast<unsigned char>(c) == fill; }));
        own_free(q);
      } else {
        own_free(p);
      }
    }
  }
  for (auto& [p, _] : live) own_free(p);
  EXPECT_EQ(own_heap_live_bytes(), before);
}

TEST(OwnHeap, FreedMemoryIsReused) {
  void* first = own_malloc(200);
  own_free(first);
  void* again = own_malloc(200);
  EXPECT_EQ(again, first);
  own_free(again);
  void* big = own_malloc(500 * 1024);
  own_free(big);
  void* big_again = own_malloc(480 * 1024);
  EXPECT_EQ(big_again, big) << "a freed page run that fits is taken again";
  own_free(big_again);
}

long minor_faults() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

// A per-test path frees a buffer and takes one of the same size again (a snapshot's copy of the
// live blocks, test after test): its pages must not fault in again each time.
TEST(OwnHeap, AFreedRunKeepsItsPagesForTheNextOfItsSize) {
  constexpr std::size_t kRun = 1 << 20;  // 256 pages
  auto* p = static_cast<char*>(own_malloc(kRun));
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, kRun);
  own_free(p);
  EXPECT_GE(own_heap_resident_free_bytes(), kRun - 4096) << "the newest run is kept whole";
  const long faults_before = minor_faults();
  auto* q = static_cast<char*>(own_malloc(kRun));
  ASSERT_EQ(q, p) << "the newest fitting run is taken";
  std::memset(q, 2, kRun);
  EXPECT_LT(minor_faults() - faults_before, 32) << "its pages stayed mapped";
  own_free(q);
}

// Every process pays for the pages its own heap touches (~1.8 us a fault in this microVM), and
// leakguard's code takes its first block of a few dozen size classes before main. Cutting a slab
// into slots up front wrote a header on each of its 16 pages; a class's first block must touch
// only its own page.
TEST(OwnHeap, AClassFirstBlockTouchesOnlyItsOwnPage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // the child is a fresh process: no slab yet
  EXPECT_EXIT(
      {
        if (own_heap_live_bytes() != 0) std::_Exit(2);
        const auto p = reinterpret_cast<std::uintptr_t>(own_malloc(100));  // 128-byte slots, 16-page slabs
        if (p == 0) std::_Exit(3);
        constexpr std::uintptr_t kPage = 4096;
        const OwnHeapRange range = own_heap_range();
        const std::uintptr_t page = p & ~(kPage - 1);
        // The slab's pages lie on one side of the block or the other, whichever slot it got.
        const std::uintptr_t lo = std::max(range.lo, page - 15 * kPage);
        const std::uintptr_t hi = std::min(range.hi, page + 16 * kPage);
        unsigned char resident[31] = {};
        if (::mincore(reinterpret_cast<void*>(lo), hi - lo, resident) != 0) std::_Exit(4);
        int others = 0;
        for (std::uintptr_t at = lo; at < hi; at += kPage) {
          if (at != page && (resident[(at - lo) / kPage] & 1) != 0) ++others;
        }
        std::fprintf(stderr, "resident pages besides the block's: %d\n", others);
        std::_Exit(others == 0 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "resident pages besides the block's: 0");
}

TEST(OwnHeap, FreedRunsKeepAtMost16MiBMapped) {
  constexpr std::size_t kMiB = 1 << 20;
  std::vector<char*> runs;
  for (int i = 0; i < 40; ++i) {
    auto* p = static_cast<char*>(own_malloc(kMiB + 4096 * static_cast<std::size_t>(i)));  // no reuse among them
    ASSERT_NE(p, nullptr);
    std::memset(p, 3, kMiB);
    runs.push_back(p);
  }
  for (char* p : runs) own_free(p);
  EXPECT_LE(own_heap_resident_free_bytes(), 16 * kMiB);
  EXPECT_GE(own_heap_resident_free_bytes(), 8 * kMiB) << "the newest are kept";
  // One run bigger than four times the bound is given back whole as soon as it is freed.
  auto* huge = static_cast<char*>(own_malloc(80 * kMiB));
  ASSERT_NE(huge, nullptr);
  std::memset(huge, 4, 80 * kMiB);
  own_free(huge);
  EXPECT_LE(own_heap_resident_free_bytes(), 16 * kMiB);
}

TEST(OwnHeap, ThreadsShareIt) {
  const std::size_t before = own_heap_live_bytes();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      std::vector<void*> mine;
      for (int i = 0; i < 5000; ++i) {
        mine.push_back(own_malloc(static_cast<std::size_t>(16 + (i * 7 + t) % 900)));
        if (i % 3 == 0) {
          own_free(mine.back());
          mine.pop_back();
        }
      }
      for (void* p : mine) own_free(p);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(own_heap_live_bytes(), before);
}

TEST(OwnHeap, AForkChildCanUseIt) {
  std::atomic<bool> stop{false};
  std::thread churn([&stop] {
    while (!stop.load()) own_free(own_malloc(64));
  });
  for (int i = 0; i < 20; ++i) {
    const pid_t child = fork();
    if (child == 0) {
      void* p = own_malloc(128);
      own_free(p);
      _exit(p != nullptr ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "fork " << i;
  }
  stop.store(true);
  churn.join();
}

}  // namespace
}  // namespace leakguard::detail
