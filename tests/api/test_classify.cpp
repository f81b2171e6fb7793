// Leak classification on known cases: lost blocks are definite (the owner direct, what only it
// points to indirect), everything still reachable is held, wherever the reference lives.
#include <gtest/gtest.h>

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <optional>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace leakguard {
std::uintptr_t brk_heap_start();  // classify.cpp: where the checkpoint reads the brk heap in place
}

namespace {

using lgtest::keep;
using leakguard::SurvivorKind;

// Dead stack frames keep stale pointers, which the conservative scan would count (erring toward
// "held"). The tests allocate deep down and wipe that stack before classifying.
__attribute__((noinline)) void scrub_stack() {
  char wipe[32 * 1024];
  std::memset(wipe, 0, sizeof wipe);
  asm volatile("" : : "r"(wipe) : "memory");  // or the compiler drops the dead stores
}

template <class Fn>
__attribute__((noinline)) void deep(int depth, Fn&& fn) {
  if (depth > 0) {
    deep(depth - 1, fn);
  } else {
    fn();
  }
  asm volatile("" ::: "memory");
}

SurvivorKind kind_of(const leakguard::Classification& c, std::uintptr_t address) {
  for (const auto& s : c.survivors) {
    if (s.address == address) return s.kind;
  }
  ADD_FAILURE() << "no survivor at " << std::hex << address;
  return SurvivorKind::kHeld;
}

struct Classify : ::testing::Test {
  leakguard::TraceScope scope{16};
};

TEST_F(Classify, NothingSurvivesNothingToClassify) {
  leakguard::Checkpoint start;
  EXPECT_FALSE(start.may_have_survivors());
  void* p = std::malloc(100);
  keep(p);
  EXPECT_TRUE(start.may_have_survivors());
  std::free(p);
  EXPECT_FALSE(start.may_have_survivors());
  const auto c = leakguard::classify_survivors(start);
  EXPECT_TRUE(c.survivors.empty());
  EXPECT_EQ(c.definite_blocks, 0u);
}

std::uintptr_t g_lost_address = 0;
int g_lost_line = 0;

TEST_F(Classify, APointerOverwrittenIsADirectLeakWithItsTraceback) {
  leakguard::Checkpoint start;
  deep(20, [] {
    void* p = std::malloc(512); g_lost_line = __LINE__;
    keep(p);
    g_lost_address = reinterpret_cast<std::uintptr_t>(p) ^ 0x5555;  // no plain copy survives
  });
  scrub_stack();
  const auto c = leakguard::classify_survivors(start);
  ASSERT_EQ(c.survivors.size(), 1u);
  EXPECT_EQ(c.survivors[0].address, g_lost_address ^ 0x5555);
  EXPECT_EQ(c.survivors[0].size, 512u);
  EXPECT_EQ(c.survivors[0].kind, SurvivorKind::kDirectLeak) << (c.notes.empty() ? "" : c.notes[0]);
  EXPECT_EQ(c.survivors[0].traceback.attribution_frame().lineno, g_lost_line);
  EXPECT_EQ(c.definite_bytes, 512u);
  EXPECT_EQ(c.held_bytes, 0u);
  std::free(reinterpret_cast<void*>(g_lost_address ^ 0x5555));
}

std::uintptr_t g_end_pointer = 0;

// One past a block's end is the next chunk's header, which glibc's own lists point to: no
// reference to the block, as in LSan.
TEST_F(Classify, APointerJustPastTheEndDoesNotHoldTheBlock) {
  leakguard::Checkpoint start;
  deep(20, [] {
    char* p = static_cast<char*>(std::malloc(4000));
    keep(p);
    g_end_pointer = reinterpret_cast<std::uintptr_t>(p + 4000);
  });
  scrub_stack();
  const auto c = leakguard::classify_survivors(start);
  ASSERT_EQ(c.survivors.size(), 1u);
  EXPECT_EQ(c.survivors[0].kind, SurvivorKind::kDirectLeak) << (c.notes.empty() ? "" : c.notes[0]);
  std::free(reinterpret_cast<void*>(g_end_pointer - 4000));
}

std::uintptr_t g_freed_holder_lost = 0;

// A pointer left in memory that was freed is stale: a free chunk of glibc's heap is not a root.
// (Chunks that glibc keeps in its per-thread cache still read as in use, and are scanned.)
TEST_F(Classify, APointerLeftInFreedHeapMemoryDoesNotHoldTheBlock) {
  std::vector<void*> neighbours;  // traced blocks around the freed one, so the heap is walked there
  leakguard::Checkpoint start;
  deep(20, [&neighbours] {
    neighbours.push_back(std::malloc(64));
    auto** holder = static_cast<std::uintptr_t**>(std::malloc(8192));  // beyond the tcache's sizes
    neighbours.push_back(std::malloc(64));
    std::memset(holder, 0, 8192);
    void* lost = std::malloc(700);
    keep(lost);
    for (int i = 16; i < 32; ++i) holder[i] = static_cast<std::uintptr_t*>(lost);
    g_freed_holder_lost = reinterpret_cast<std::uintptr_t>(lost) ^ 0x5555;
    keep(holder);
    std::free(holder);
  });
  scrub_stack();
  const auto c = leakguard::classify_survivors(start);
  EXPECT_EQ(kind_of(c, g_freed_holder_lost ^ 0x5555), SurvivorKind::kDirectLeak) << (c.notes.empty() ? "" : c.notes[0]);
  std::free(reinterpret_cast<void*>(g_freed_holder_lost ^ 0x5555));
  for (void* p : neighbours) std::free(p);
}

std::uintptr_t g_node_lost = 0;

// The commonest leak: a container's node is erased, and the object it pointed to never deleted.
// The freed node keeps the pointer. Small freed chunks stay in glibc's tcache and fast bins, where
// they read as in use; the scan tells them apart (tcache's mark, fast bins consolidated first).
TEST_F(Classify, APointerLeftInFreedSmallNodesDoesNotHoldTheBlock) {
  leakguard::Checkpoint start;
  deep(20, [] {
    void* lost = std::malloc(40);
    keep(lost);
    std::vector<void**> nodes;
    nodes.reserve(20);
    for (int i = 0; i < 20; ++i) {  // more than the tcache keeps: the rest go to the fast bins
      auto** node = static_cast<void**>(std::malloc(48));
      for (int w = 0; w < 6; ++w) node[w] = lost;
      nodes.push_back(node);
    }
    for (void** node : nodes) std::free(node);
    g_node_lost = reinterpret_cast<std::uintptr_t>(lost) ^ 0x5555;
  });
  scrub_stack();
  const auto c = leakguard::classify_survivors(start);
  EXPECT_EQ(kind_of(c, g_node_lost ^ 0x5555), SurvivorKind::kDirectLeak) << (c.notes.empty() ? "" : c.notes[0]);
  std::free(reinterpret_cast<void*>(g_node_lost ^ 0x5555));
}

std::uintptr_t g_remainder_lost = 0;

// glibc's arena remembers the remainder of its last split (last_remainder) and leaves that
// pointer behind when the remainder is merged back and handed out inside a bigger block. It is
// bookkeeping, not a reference.
TEST_F(Classify, TheArenasLastRemainderDoesNotHoldTheBlock) {
  leakguard::Checkpoint start;
  deep(20, [] {
    constexpr std::size_t kSmall = 1000;  // a small-bin size, as a split's remainder needs
    std::vector<void*> fill;              // the tcache's bin for kSmall full: frees go to the arena
    for (int i = 0; i < 7; ++i) fill.push_back(std::malloc(kSmall));
    // `big` needs a chunk in use right after it, or freeing it merges it into the top chunk.
    std::vector<void*> spare;
    void* big = nullptr;
    void* after = nullptr;
    for (int i = 0; i < 16 && after != static_cast<char*>(big) + 16016; ++i) {
      if (big != nullptr) spare.push_back(big);
      big = std::malloc(16000);
      after = std::malloc(16000);
      spare.push_back(after);
    }
    ASSERT_EQ(after, static_cast<char*>(big) + 16016) << "no neighbouring chunks";
    std::free(big);                      // into the unsorted bin
    void* small = std::malloc(kSmall);   // split off big's start; the rest is last_remainder
    for (void* p : fill) std::free(p);
    std::free(small);                    // merges with the remainder back into big's chunk
    void* lost = std::malloc(15000);     // that chunk again: last_remainder points inside it
    ASSERT_EQ(lost, big);
    keep(lost);
    g_remainder_lost = ~reinterpret_cast<std::uintptr_t>(lost);  // no copy points inside it either
    for (void* p : spare) std::free(p);
  });
  if (HasFatalFailure()) return;
  scrub_stack();
  const auto c = leakguard::classify_survivors(start);
  EXPECT_EQ(kind_of(c, ~g_remainder_lost), SurvivorKind::kDirectLeak) << (c.notes.empty() ? "" : c.notes[0]);
  std::free(reinterpret_cast<void*>(~g_remainder_lost));
}

std::uintptr_t g_own_copy_lost = 0;
std::uintptr_t* g_own_copy = nullptr;

// leakguard's own memory (its symbolizer's caches, reports, the plugins' bookkeeping) lives apart
// from the program's heap, and is never a root: a copy of an address kept there does not hold
// the block.
TEST_F(Classify, LeakguardsOwnMemoryDoesNotHoldTheBlock) {
  leakguard::Checkpoint start;
  deep(20, [] {
    void* lost = std::malloc(96);
    keep(lost);
    {
      leakguard::detail::OwnMemoryScope own;
      g_own_copy = new std::uintptr_t[64];
    }
    for (int i = 0; i < 64; ++i) g_own_copy[i] = reinterpret_cast<std::uintptr_t>(lost);
    g_own_copy_lost = ~reinterpret_cast<std::uintptr_t>(lost);
  });
  scrub_stack();
  const auto c = leakguard::classify_survivors(start);
  ASSERT_EQ(c.survivors.size(), 1u) << "the own heap's block is not traced";
  EXPECT_EQ(kind_of(c, ~g_own_copy_lost), SurvivorKind::kDirectLeak) << (c.notes.empty() ? "" : c.notes[0]);
  delete[] g_own_copy;  // freed from outside the scope: the own heap takes it back
  std::free(reinterpret_cast<void*>(~g_own_copy_lost));
}

std::uintptr_t g_cached_node_lost = 0;

// The tcache's mark is learnt from chunks of two sizes freed into the tcache; when the program has
// filled those sizes' bins already, the probe's frees would go to the fast bins: it learns anyway.
TEST_F(Classify, TheTcacheMarkIsLearntWhenItsBinsAreFull) {
  for (const std::size_t size : {40, 72}) {  // the probe's sizes, each bin full (7 chunks)
    void* fill[8];
    for (void*& p : fill) p = std::malloc(size);
    for (void* p : fill) std::free(p);
  }
  leakguard::Checkpoint start;
  deep(20, [] {
    void* lost = std::malloc(100);
    keep(lost);
    void** nodes[3];  // few enough to stay in the tcache: only its mark tells they are free
    for (auto& node : nodes) {
      node = static_cast<void**>(std::malloc(48));
      for (int w = 0; w < 6; ++w) node[w] = lost;
    }
    for (auto* node : nodes) std::free(node);
    g_cached_node_lost = ~reinterpret_cast<std::uintptr_t>(lost);
  });
  scrub_stack();
  const auto c = leakguard::classify_survivors(start);
  EXPECT_EQ(kind_of(c, ~g_cached_node_lost), SurvivorKind::kDirectLeak) << (c.notes.empty() ? "" : c.notes[0]);
  std::free(reinterpret_cast<void*>(~g_cached_node_lost));
}

std::uintptr_t g_vector_obj = 0, g_vector_buf = 0;
int g_vector_line = 0;

std::uintptr_t g_big_lost = 0, g_looped_lost = 0;

// The scan reads small blocks many at a time and a big one alone: each read is still taken for
// the block it is. A lost node that points to itself (a one-node ring) is a direct leak, whatever
// big block precedes it; read as another block's, its own pointer made it "indirect".
TEST_F(Classify, ABlockReadInABatchAfterABigOneIsItself) {
  leakguard::Checkpoint start;
  deep(20, [] {
    auto* big = static_cast<char*>(std::malloc(64 * 1024));
    std::memset(big, 0, 64 * 1024);
    auto** ring = static_cast<void**>(std::malloc(64));
    ring[0] = ring;
    ring[1] = nullptr;
    g_big_lost = ~reinterpret_cast<std::uintptr_t>(big);
    g_looped_lost = ~reinterpret_cast<std::uintptr_t>(ring);
  });
  scrub_stack();
  const auto c = leakguard::classify_survivors(start);
  EXPECT_EQ(kind_of(c, ~g_big_lost), SurvivorKind::kDirectLeak);
  EXPECT_EQ(kind_of(c, ~g_looped_lost), SurvivorKind::kDirectLeak) << (c.notes.empty() ? "" : c.notes[0]);
  std::free(reinterpret_cast<void*>(~g_big_lost));
  std::free(reinterpret_cast<void*>(~g_looped_lost));
}

TEST_F(Classify, ALeakedContainerIsDirectAndItsBufferIndirect) {
  leakguard::Checkpoint start;
  deep(20, [] {
    // ctest runs each test in a process of its own: run in one process after other tests, the
    // buffer can land where a freed block of theirs was, and stale data left in freed memory
    // (which the scan counts, erring toward held) can name it.
    auto* v = new std::vector<int>(1000); g_vector_line = __LINE__;
    g_vector_obj = reinterpret_cast<std::uintptr_t>(v) ^ 0x5555;
    g_vector_buf = reinterpret_cast<std::uintptr_t>(v->data()) ^ 0x5555;
  });
  scrub_stack();
  const auto c = leakguard::classify_survivors(start);
  ASSERT_EQ(c.survivors.size(), 2u);
  EXPECT_EQ(kind_of(c, g_vector_obj ^ 0x5555), SurvivorKind::kDirectLeak);
  EXPECT_EQ(kind_of(c, g_vector_buf ^ 0x5555), SurvivorKind::kIndirectLeak);
  EXPECT_EQ(c.survivors[0].kind, SurvivorKind::kDirectLeak) << "direct leaks are listed first";
  // As a report: one site, the line that made both blocks (the buffer's stack differs from the
  // object's only inside std::vector).
  const leakguard::Report report = leakguard::leak_report(c, "leak");
  ASSERT_EQ(report.sites.size(), 1u) << leakguard::format_text(report);
  EXPECT_EQ(report.total_bytes, static_cast<std::int64_t>(sizeof(std::vector<int>) + 1000 * sizeof(int)));
  EXPECT_EQ(report.total_blocks, 2);
  EXPECT_EQ(report.sites[0].traceback.attribution_frame().lineno, g_vector_line);
  delete reinterpret_cast<std::vector<int>*>(g_vector_obj ^ 0x5555);
}

std::vector<int*> g_cache;

std::vector<int>& lazy() {
  static auto* v = new std::vector<int>(64);  // a function-local static, filled on first use
  return *v;
}

struct Owner {
  char* member = nullptr;
};

TEST_F(Classify, StaticsGlobalsAndMembersOfLiveObjectsAreHeld) {
  g_cache.reserve(16);
  auto* owner = new Owner;  // from before the window, still alive
  leakguard::Checkpoint start;
  deep(20, [owner] {
    keep(lazy().data());
    g_cache.push_back(new int[10]);
    owner->member = new char[100];
  });
  scrub_stack();
  const auto c = leakguard::classify_survivors(start);
  ASSERT_EQ(c.survivors.size(), 4u);  // the static vector, its buffer, the int[10], the member
  for (const auto& s : c.survivors) EXPECT_EQ(s.kind, SurvivorKind::kHeld) << s.size << " B at " << s.traceback.str();
  EXPECT_EQ(c.definite_blocks, 0u);
  EXPECT_EQ(c.held_blocks, 4u);
  delete[] owner->member;
  delete owner;
  for (int* p : g_cache) delete[] p;
  g_cache.clear();
}

thread_local void* t_only_here = nullptr;

TEST_F(Classify, APointerOnlyOnAnotherThreadsStackOrInItsThreadLocalIsHeld) {
  std::mutex m;
  std::condition_variable cv;
  bool ready = false, release = false;
  std::uintptr_t on_stack = 0, in_tls = 0;
  leakguard::Checkpoint start;
  std::thread holder([&] {
    void* volatile mine = std::malloc(300);  // lives on this thread's stack only
    t_only_here = std::malloc(400);          // lives in this thread's TLS only
    {
      std::lock_guard<std::mutex> lock(m);
      on_stack = reinterpret_cast<std::uintptr_t>(mine) ^ 0x5555;
      in_tls = reinterpret_cast<std::uintptr_t>(t_only_here) ^ 0x5555;
      ready = true;
    }
    cv.notify_all();
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return release; });
    std::free(mine);
    std::free(t_only_here);
  });
  {
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return ready; });
  }
  scrub_stack();
  const auto c = leakguard::classify_survivors(start);
  EXPECT_EQ(kind_of(c, on_stack ^ 0x5555), SurvivorKind::kHeld);
  EXPECT_EQ(kind_of(c, in_tls ^ 0x5555), SurvivorKind::kHeld);
  {
    std::lock_guard<std::mutex> lock(m);
    release = true;
  }
  cv.notify_all();
  holder.join();
}

TEST_F(Classify, WindowsNestAndFollowBlocksAcrossThreadsAndRealloc) {
  void* before = std::malloc(64);  // from before both windows
  keep(before);
  leakguard::Checkpoint outer;
  void* in_outer = std::malloc(70);
  keep(in_outer);
  leakguard::Checkpoint inner;
  void* in_inner = std::malloc(80);
  keep(in_inner);
  void* grown = std::realloc(before, 4096);  // a new block, allocated in the inner window
  keep(grown);
  void* theirs = nullptr;
  std::thread([&] { theirs = std::malloc(90); }).join();
  keep(theirs);
  // Which of this test's blocks (told apart by their sizes) a classification lists; thread start-up
  // and gtest allocate too.
  auto mine = [&](const leakguard::Classification& c) {
    std::vector<std::size_t> v;
    for (const auto& s : c.survivors) {
      if (s.size == 64 || s.size == 70 || s.size == 80 || s.size == 90 || s.size == 4096) v.push_back(s.size);
    }
    std::sort(v.begin(), v.end());
    return v;
  };
  EXPECT_EQ(mine(leakguard::classify_survivors(inner)), (std::vector<std::size_t>{80, 90, 4096}));
  EXPECT_EQ(mine(leakguard::classify_survivors(outer)), (std::vector<std::size_t>{70, 80, 90, 4096}));
  // Frees from any thread take blocks out of their window's count.
  std::thread([&] { std::free(theirs); }).join();
  std::free(in_inner);
  std::free(grown);
  EXPECT_EQ(mine(leakguard::classify_survivors(inner)), std::vector<std::size_t>{});
  EXPECT_EQ(mine(leakguard::classify_survivors(outer)), std::vector<std::size_t>{70});
  std::free(in_outer);
  EXPECT_EQ(mine(leakguard::classify_survivors(outer)), std::vector<std::size_t>{});
}

// A window begins without stopping any thread: each thread's table learns of it at its next
// allocation. A thread that has allocated in an older window and sat idle since still has its
// blocks of the new window counted, and its older blocks are not; a block of the window freed by
// another thread (queued until matched against the tables) is not a survivor.
TEST_F(Classify, AThreadThatLearnsOfTheWindowLateIsCountedExactly) {
  std::mutex mutex;
  std::condition_variable cv;
  int step = 0, done = 0;
  void* old_block = nullptr;
  void* new_block = nullptr;
  auto run_step = [&](int s) {
    std::unique_lock<std::mutex> lock(mutex);
    step = s;
    cv.notify_all();
    cv.wait(lock, [&] { return done == s; });
  };
  std::thread worker([&] {
    for (int s = 1; s <= 3; ++s) {
      std::unique_lock<std::mutex> lock(mutex);
      cv.wait(lock, [&] { return step == s; });
      if (s == 1) old_block = std::malloc(77);
      if (s == 2) new_block = std::malloc(78);
      if (s == 3) std::free(new_block);
      done = s;
      cv.notify_all();
    }
  });
  auto sizes = [](const leakguard::Classification& c) {
    std::vector<std::size_t> v;
    for (const auto& s : c.survivors) {
      if (s.size == 77 || s.size == 78 || s.size == 79) v.push_back(s.size);
    }
    std::sort(v.begin(), v.end());
    return v;
  };
  {
    leakguard::Checkpoint earlier;
    run_step(1);  // the worker's table is in `earlier` and counts old_block there
  }
  leakguard::Checkpoint start;
  EXPECT_EQ(sizes(leakguard::classify_survivors(start)), std::vector<std::size_t>{});
  run_step(2);  // its first allocation since `start` began
  EXPECT_EQ(sizes(leakguard::classify_survivors(start)), std::vector<std::size_t>{78});
  run_step(3);
  EXPECT_EQ(sizes(leakguard::classify_survivors(start)), std::vector<std::size_t>{});
  // Another thread's block freed here: the free waits in this thread's queue, and still no
  // survivor.
  {
    leakguard::Checkpoint again;
    void* mine = nullptr;
    std::thread([&] { mine = std::malloc(79); }).join();
    EXPECT_EQ(sizes(leakguard::classify_survivors(again)), std::vector<std::size_t>{79});
    std::free(mine);
    EXPECT_EQ(sizes(leakguard::classify_survivors(again)), std::vector<std::size_t>{});
  }
  worker.join();
  std::free(old_block);
}

TEST_F(Classify, WithNothingLeftTheWindowIsEmptyWhateverTheHeap) {
  std::vector<void*> heap(200000);
  for (auto& p : heap) p = std::malloc(24);  // a big live heap from before the window
  leakguard::Checkpoint start;
  for (int i = 0; i < 1000; ++i) {
    void* p = std::malloc(100);
    keep(p);
    std::free(p);
  }
  const auto c = leakguard::classify_survivors(start);
  EXPECT_TRUE(c.survivors.empty());
  EXPECT_TRUE(c.notes.empty());
  for (void* p : heap) std::free(p);
}

std::uintptr_t g_ignored_obj = 0;

TEST_F(Classify, AnIgnoredObjectAndWhatItPointsToAreNeverLeaks) {
  leakguard::Checkpoint start;
  deep(20, [] {
    auto* v = new std::vector<int>(100);  // lost on purpose
    EXPECT_TRUE(leakguard::ignore_object(reinterpret_cast<char*>(v) + 4));  // any byte of it
    g_ignored_obj = reinterpret_cast<std::uintptr_t>(v) ^ 0x5555;
  });
  scrub_stack();
  const auto c = leakguard::classify_survivors(start);
  EXPECT_EQ(c.definite_blocks, 0u);
  std::size_t held_of_mine = 0;
  for (const auto& s : c.survivors) held_of_mine += (s.size == sizeof(std::vector<int>) || s.size == 400) ? 1 : 0;
  EXPECT_EQ(held_of_mine, 2u) << "the vector and its buffer are there, as held";
  for (const auto& s : c.survivors) {
    if (s.size == sizeof(std::vector<int>)) {
      EXPECT_TRUE(s.ignored) << "the object ignore_object named";
    }
    if (s.size == 400) {
      EXPECT_FALSE(s.ignored) << "what it reaches is held through it";
    }
  }
  int on_stack = 0;
  EXPECT_FALSE(leakguard::ignore_object(&on_stack));
  delete reinterpret_cast<std::vector<int>*>(g_ignored_obj ^ 0x5555);
}

std::uintptr_t g_recycled_lost = 0;

// A frame that stays live across the window (the test framework's, above the listener that opens
// it) keeps a copy of a small block's address after that block is freed; the tcache hands the same
// chunk to the window's first allocation of that size, and the stale copy named the lost block.
// (OrderBook.CancelsAnOrder in examples/gtest_leak_check passed this way, 10 runs in 10.)
TEST_F(Classify, AStaleCopyInALiveFrameAboveTheCheckpointDoesNotHoldABlockAtThatAddress) {
  void* volatile stale = std::malloc(48);  // in this frame, live until the end of the test
  keep(stale);
  std::free(stale);  // into the tcache; `stale` still names it
  std::optional<leakguard::Checkpoint> start;
  deep(20, [&start] {
    start.emplace();  // deeper than `stale`, as the listener is below the framework's frames
    void* lost = std::malloc(48);  // the tcache's next chunk of that size, but for the quarantine
    keep(lost);
    g_recycled_lost = reinterpret_cast<std::uintptr_t>(lost) ^ 0x5555;
  });
  scrub_stack();
  const auto c = leakguard::classify_survivors(*start);
  EXPECT_EQ(kind_of(c, g_recycled_lost ^ 0x5555), SurvivorKind::kDirectLeak) << (c.notes.empty() ? "" : c.notes[0]);
  EXPECT_NE(reinterpret_cast<std::uintptr_t>(stale), g_recycled_lost ^ 0x5555) << "the stale chunk was quarantined";
  std::free(reinterpret_cast<void*>(g_recycled_lost ^ 0x5555));
}

// Why the checkpoint moves the named chunks aside rather than ignoring stack words that did not
// change across the window: a word can be unchanged and still be the block's only reference. The
// same variable stored again with a recycled address, and a block grown in place by realloc (a new
// block of the window, at the old address), are both held, and must stay so.
TEST_F(Classify, AnUnchangedStackWordCanStillHoldABlockOfTheWindow) {
  void* volatile slot = std::malloc(48);
  keep(slot);
  std::free(slot);  // `slot` names a tcache chunk when the window opens
  char* volatile grown = static_cast<char*>(std::malloc(100000));  // a big chunk: realloc grows it in place
  keep(grown);
  std::optional<leakguard::Checkpoint> start;
  deep(20, [&start] { start.emplace(); });
  slot = std::malloc(48);  // stored again, maybe with the very address it held before
  keep(slot);
  const std::uintptr_t before = reinterpret_cast<std::uintptr_t>(grown);
  grown = static_cast<char*>(std::realloc(grown, 100016));
  keep(grown);
  const bool in_place = reinterpret_cast<std::uintptr_t>(grown) == before;
  scrub_stack();
  const auto c = leakguard::classify_survivors(*start);
  EXPECT_EQ(kind_of(c, reinterpret_cast<std::uintptr_t>(slot)), SurvivorKind::kHeld);
  EXPECT_EQ(kind_of(c, reinterpret_cast<std::uintptr_t>(grown)), SurvivorKind::kHeld) << "in place: " << in_place;
  std::free(slot);
  std::free(grown);
}

// A test framework's runner, in the shape of Catch2 v3's RunContext::runCurrentTest: the
// listener's begin and end are called through dispatch frames of their own (MultiReporter's), the
// test body in between through its frames. The body leaves copies of its block's address all over
// the stack below the runner; the end's dispatch frame is built over them and never writes some of
// its slots, so a copy is live stack when the classification runs.
struct Runner {
  SurvivorKind lost = SurvivorKind::kHeld;  // the body's block, reachable from nowhere once it returned
  SurvivorKind kept = SurvivorKind::kHeld;  // a block of the window that a local of the runner's frame holds
  std::string notes;
};

__attribute__((noinline)) void begin_through_dispatch(std::optional<leakguard::Checkpoint>* window,
                                                      leakguard::StackRoots roots) {
  window->emplace(roots);
  asm volatile("" ::: "memory");
}

__attribute__((noinline)) std::uintptr_t body_leaving_copies(void* volatile* kept_here) {
  void* block = std::malloc(4000);
  keep(block);
  volatile std::uintptr_t copies[512];  // 4 KiB of the stack, right below the runner's frame
  for (auto& c : copies) c = reinterpret_cast<std::uintptr_t>(block);
  asm volatile("" : : "r"(copies) : "memory");
  if (kept_here != nullptr) *kept_here = std::malloc(4000);
  return reinterpret_cast<std::uintptr_t>(block) ^ 0x5555;  // hidden from the scan
}

__attribute__((noinline)) leakguard::Classification end_through_dispatch(const leakguard::Checkpoint& window) {
  volatile std::uintptr_t unwritten[64];  // slots this frame never writes: the body's words stay
  asm volatile("" : : "r"(unwritten) : "memory");
  return leakguard::classify_survivors(window);
}

__attribute__((noinline)) Runner run_test(leakguard::StackRoots roots, bool keep_one = false) {
  std::optional<leakguard::Checkpoint> window;
  void* volatile kept_here = nullptr;
  begin_through_dispatch(&window, roots);
  const std::uintptr_t lost = body_leaving_copies(keep_one ? &kept_here : nullptr);
  leakguard::Classification c = end_through_dispatch(*window);
  Runner run;
  run.lost = kind_of(c, lost ^ 0x5555);
  if (keep_one) run.kept = kind_of(c, reinterpret_cast<std::uintptr_t>(kept_here));
  if (!c.notes.empty()) run.notes = c.notes[0];
  // The survivors' addresses, in the heap, would hold the next run's blocks at the same addresses.
  for (auto& survivor : c.survivors) survivor.address = 0;
  std::free(reinterpret_cast<void*>(lost ^ 0x5555));
  std::free(kept_here);  // after the classification: held until then by this frame alone
  return run;
}

TEST_F(Classify, AStaleCopyInAFrameBuiltAfterTheTestBodyHoldsTheBlockUnlessOnlySharedFramesAreRoots) {
  // Every frame a root: the copy in the end's dispatch frame holds the lost block (which shows
  // that this runner does leave one there).
  EXPECT_EQ(run_test(leakguard::StackRoots::kAllFrames).lost, SurvivorKind::kHeld);
  const Runner shared = run_test(leakguard::StackRoots::kSharedFrames);
  EXPECT_EQ(shared.lost, SurvivorKind::kDirectLeak) << shared.notes;
}

TEST_F(Classify, WithOnlySharedFramesAsRootsTheRunnersOwnFrameStillHoldsItsBlocks) {
  const Runner run = run_test(leakguard::StackRoots::kSharedFrames, true);
  EXPECT_EQ(run.kept, SurvivorKind::kHeld) << "the runner's frame is live across the test";
  EXPECT_EQ(run.lost, SurvivorKind::kDirectLeak) << run.notes;
}

std::uintptr_t g_below_free_lost = 0;

// A free chunk's header overlaps the last word of the block before it when that block uses its
// chunk whole (16k+8 bytes), and the arena's bins name free chunks by their header: the bin's
// pointer falls inside the lost block, and made it look held.
TEST_F(Classify, TheArenasBinsDoNotHoldTheBlockBeforeAFreeChunk) {
  {  // a first classification, whose own probes of glibc would move the top chunk
    leakguard::Checkpoint warm;
    void* p = std::malloc(8);
    keep(p);
    (void)leakguard::classify_survivors(warm);
    std::free(p);
  }
  leakguard::Checkpoint start;
  deep(20, [] {
    std::vector<void*> spare;
    void* lost = nullptr;
    void* next = nullptr;
    for (int i = 0; i < 16 && next != static_cast<char*>(lost) + 1000 - 8 + 16; ++i) {
      if (lost != nullptr) spare.push_back(lost);
      if (next != nullptr) spare.push_back(next);
      lost = std::malloc(1000);  // chunk of 1008: its last word is the next chunk's prev_size
      next = std::malloc(5000);  // beyond the tcache's sizes: freed into the unsorted bin
    }
    ASSERT_EQ(next, static_cast<char*>(lost) + 1000 - 8 + 16) << "no neighbouring chunks";
    void* after = std::malloc(5000);  // keeps `next` from merging into the top chunk
    std::free(next);                  // the arena's unsorted bin now names its header
    keep(lost);
    g_below_free_lost = ~reinterpret_cast<std::uintptr_t>(lost);
    spare.push_back(after);
    for (void* p : spare) std::free(p);
  });
  if (HasFatalFailure()) return;
  scrub_stack();
  const auto c = leakguard::classify_survivors(start);
  EXPECT_EQ(kind_of(c, ~g_below_free_lost), SurvivorKind::kDirectLeak) << (c.notes.empty() ? "" : c.notes[0]);
  std::free(reinterpret_cast<void*>(~g_below_free_lost));
}

std::uintptr_t g_thread_lost = 0, g_thread_tls_lost = 0;
thread_local void* t_dropped = nullptr;

// A thread that has been joined holds nothing: glibc keeps its stack for the next thread, and
// the copies of addresses left in its frames and its TLS are dead.
TEST_F(Classify, WhatAJoinedThreadDroppedIsADirectLeak) {
  leakguard::Checkpoint start;
  std::thread([] {
    void* volatile lost = std::malloc(64);  // on the thread's stack, then dropped
    t_dropped = std::malloc(80);            // in the thread's TLS, never freed
    keep(t_dropped);
    g_thread_lost = reinterpret_cast<std::uintptr_t>(lost) ^ 0x5555;
    g_thread_tls_lost = reinterpret_cast<std::uintptr_t>(t_dropped) ^ 0x5555;
  }).join();
  scrub_stack();
  const auto c = leakguard::classify_survivors(start);
  EXPECT_EQ(kind_of(c, g_thread_lost ^ 0x5555), SurvivorKind::kDirectLeak) << (c.notes.empty() ? "" : c.notes[0]);
  EXPECT_EQ(kind_of(c, g_thread_tls_lost ^ 0x5555), SurvivorKind::kDirectLeak);
  for (const auto& s : c.survivors) {
    if (s.address != (g_thread_lost ^ 0x5555) && s.address != (g_thread_tls_lost ^ 0x5555)) {
      EXPECT_EQ(s.kind, SurvivorKind::kHeld) << "the thread's own (its TLS vector): " << s.size << " B at " << s.traceback.str();
    }
  }
  std::free(reinterpret_cast<void*>(g_thread_lost ^ 0x5555));
  std::free(reinterpret_cast<void*>(g_thread_tls_lost ^ 0x5555));
}

std::atomic<pid_t> g_returning_tid{0};
void* return_a_block(void*) {
  void* result = std::malloc(96);
  g_returning_tid.store(gettid());
  return result;
}

// Waits until the kernel has no thread `tid` (it has exited; its pthread descriptor stays until
// joined). A sleep was not enough under load: the thread had sometimes not even allocated yet.
bool wait_for_thread_exit(const std::atomic<pid_t>& tid) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    const pid_t t = tid.load();
    if (t != 0 && access(("/proc/self/task/" + std::to_string(t)).c_str(), F_OK) != 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

// A thread that has exited keeps its result in its descriptor until it is joined: held. And a live
// thread that never allocated anything holds what is on its stack.
TEST_F(Classify, AnExitedThreadsResultAndALiveThreadsStackAreHeld) {
  leakguard::Checkpoint start;
  pthread_t exited;
  ASSERT_EQ(pthread_create(&exited, nullptr, return_a_block, nullptr), 0);
  // Gone before the check: its result is only in its descriptor.
  ASSERT_TRUE(wait_for_thread_exit(g_returning_tid)) << "the first thread did not exit";
  std::mutex m;
  std::condition_variable cv;
  bool ready = false, release = false;
  void* given = std::malloc(112);
  const std::uintptr_t given_address = reinterpret_cast<std::uintptr_t>(given) ^ 0x5555;
  std::thread holder([&m, &cv, &ready, &release, handed = given] {
    void* volatile mine = handed;  // this thread allocates nothing
    std::unique_lock<std::mutex> lock(m);
    ready = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    std::free(mine);
  });
  given = nullptr;
  {
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return ready; });
  }
  scrub_stack();
  const auto c = leakguard::classify_survivors(start);
  bool saw_result = false;
  for (const auto& s : c.survivors) {
    if (s.size == 96) {
      saw_result = true;
      EXPECT_EQ(s.kind, SurvivorKind::kHeld) << "the exited thread's result, not yet joined";
    }
  }
  EXPECT_TRUE(saw_result);
  EXPECT_EQ(kind_of(c, given_address ^ 0x5555), SurvivorKind::kHeld);
  {
    std::lock_guard<std::mutex> lock(m);
    release = true;
  }
  cv.notify_all();
  holder.join();
  void* result = nullptr;
  pthread_join(exited, &result);
  std::free(result);
}

// A fork child reads its own memory, not its parent's: the scan names the process it reads, and
// the parent (which checked before, and waits) has the global unset and the lost block's memory
// unwritten, so reading it would turn both answers round.
void* g_set_in_child = nullptr;

TEST_F(Classify, AForkChildClassifiesItsOwnMemory) {
  {
    leakguard::Checkpoint warm;  // the parent checks first
    (void)leakguard::classify_survivors(warm);
  }
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    alarm(20);
    leakguard::Checkpoint start;
    std::uintptr_t lost_address = 0;
    deep(20, [&lost_address] {
      g_set_in_child = std::malloc(200);
      void* lost = std::malloc(300);
      lost_address = reinterpret_cast<std::uintptr_t>(lost) ^ 0x5555;
    });
    scrub_stack();
    const auto c = leakguard::classify_survivors(start);
    int bad = 0;
    for (const auto& s : c.survivors) {
      if (s.address == reinterpret_cast<std::uintptr_t>(g_set_in_child) && s.kind != SurvivorKind::kHeld) bad |= 1;
      if (s.address == (lost_address ^ 0x5555) && s.kind != SurvivorKind::kDirectLeak) bad |= 2;
    }
    if (c.survivors.size() != 2) bad |= 4;
    _exit(bad);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: the global's block was not held, 2: the lost block was not a direct "
                                       "leak, 4: not exactly two survivors";
}

TEST(ClassifyApi, NeedsTracing) {
  EXPECT_THROW(leakguard::Checkpoint(), std::logic_error);
  EXPECT_STREQ(leakguard::to_string(SurvivorKind::kIndirectLeak), "indirect leak");
}

// The quarantine reads [brk_heap_start(), sbrk(0)) in place in a single-threaded process: that
// range must be the kernel's [heap] mapping, from its first byte.
TEST(BrkHeap, StartsWhereTheKernelsHeapMappingStarts) {
  void* p = std::malloc(64);  // the heap exists from the first small malloc on
  lgtest::keep(p);
  std::ifstream maps("/proc/self/maps");
  std::uintptr_t heap_lo = 0;
  for (std::string line; std::getline(maps, line);) {
    if (line.find("[heap]") == std::string::npos) continue;
    heap_lo = std::stoull(line.substr(0, line.find('-')), nullptr, 16);
  }
  std::free(p);
  ASSERT_NE(heap_lo, 0u) << "no [heap] mapping";
  EXPECT_EQ(leakguard::brk_heap_start(), heap_lo);
  EXPECT_EQ(leakguard::brk_heap_start(), heap_lo);  // and again, from the first look
}

}  // namespace
