// When the tracer cannot map memory for its own tables, the program's allocations still succeed:
// the blocks are counted as untraced, and traced plus untraced bytes add up exactly.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include <leakguard/leakguard.hpp>

#include "core/block_store.hpp"
#include "core/raw_memory.hpp"

namespace {

// Traced bytes allocated at `line` of this file (creating a thread also makes glibc allocate).
std::size_t bytes_at(int line) {
  const auto snap = leakguard::take_snapshot().filter_traces({leakguard::Filter(true, __FILE__, line)});
  std::size_t n = 0;
  for (const auto& t : snap.traces()) n += t.size;
  return n;
}

void keep(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

TEST(TracerOutOfMemory, AllocationsSucceedAndTheLossIsCounted) {
  leakguard::start();
  const leakguard::TracerStats before = leakguard::get_tracer_stats();  // counts since start-up
  std::vector<void*> blocks;
  blocks.reserve(200000);
  const std::size_t base = leakguard::get_traced_memory().current;
  // The young blocks wait in a small per-thread nursery (65 of them) before they enter the table,
  // and the table is where memory runs out: flush the nursery with blocks of this test first, so
  // that any block that goes untraced is one the test counts.
  constexpr int kFill = 1024;
  std::size_t requested = 0;
  for (int i = 0; i < kFill; ++i) {
    blocks.push_back(std::malloc(8));
    keep(blocks.back());
    requested += 8;
  }
  leakguard::detail::raw_inject_failures(1 << 30);  // every mmap of the tracer fails from now on
  for (int i = 0; i < 200000 - kFill; ++i) {
    const std::size_t size = 8 + static_cast<std::size_t>(i % 50);
    void* p = std::malloc(size);
    ASSERT_NE(p, nullptr) << "the program's allocation failed at " << i;
    keep(p);
    blocks.push_back(p);
    requested += size;
  }
  const leakguard::TracerStats stats = leakguard::get_tracer_stats();
  leakguard::detail::raw_inject_failures(0);
  EXPECT_GT(stats.untraced_blocks - before.untraced_blocks, 0u) << "the table never had to grow";
  EXPECT_EQ(leakguard::get_traced_memory().current - base + stats.untraced_bytes - before.untraced_bytes,
            requested);
  for (void* p : blocks) std::free(p);
  EXPECT_EQ(leakguard::get_traced_memory().current, base);
  // Once memory is back, tracing resumes.
  void* p = std::malloc(123);
  keep(p);
  EXPECT_TRUE(leakguard::get_object_traceback(p).has_value());
  std::free(p);
  leakguard::stop();
}

// With no memory for the tracer from the very start (no module list, no stack table, no thread
// table), every allocation still succeeds. The youngest blocks still fit where no memory is
// needed (traced, without a stack); every other one is counted as untraced. The API keeps working;
// once memory is back, new allocations are traced with their stacks.
TEST(TracerOutOfMemory, StartingWithNoMemoryAtAll) {
  const leakguard::TracerStats before = leakguard::get_tracer_stats();  // zero in its own process
  leakguard::detail::raw_inject_failures(1 << 30);
  leakguard::start();
  std::vector<void*> blocks;
  std::size_t requested = 0;
  {
    leakguard::ScopedUntraced quiet;  // the vector's own buffer is not part of the count
    blocks.reserve(1000);
  }
  for (int i = 0; i < 1000; ++i) {
    void* p = i % 2 == 0 ? std::malloc(10 + i) : ::operator new(10 + i);
    ASSERT_NE(p, nullptr);
    blocks.push_back(p);
    requested += 10 + i;
  }
  const leakguard::TracerStats stats = leakguard::get_tracer_stats();
  // At most the nursery's worth stays traced (fewer when the blocks' addresses share sets).
  EXPECT_GE(stats.untraced_blocks - before.untraced_blocks, 1000u - leakguard::detail::BlockStore::kNursery);
  const leakguard::Snapshot snap = leakguard::take_snapshot();
  EXPECT_EQ(snap.traces().size() + stats.untraced_blocks - before.untraced_blocks, 1000u);
  EXPECT_EQ(leakguard::get_traced_memory().current + stats.untraced_bytes - before.untraced_bytes,
            requested);
  EXPECT_FALSE(leakguard::get_object_traceback(blocks[0]).has_value()) << "the oldest block was dropped";
  for (const auto& stat : snap.statistics("lineno")) (void)stat.str();  // traces without a stack
  for (const auto& stat : snap.statistics("traceback")) (void)stat.str();
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    if (i % 2 == 0) {
      std::free(blocks[i]);
    } else {
      ::operator delete(blocks[i]);
    }
  }
  leakguard::detail::raw_inject_failures(0);
  void* p = std::malloc(321); const int line = __LINE__;
  keep(p);
  const auto tb = leakguard::get_object_traceback(p);
  ASSERT_TRUE(tb.has_value());
  EXPECT_EQ(tb->attribution_frame().filename, __FILE__);
  EXPECT_EQ(tb->attribution_frame().lineno, line);
  EXPECT_EQ(leakguard::get_traced_memory().current, 321u);
  std::free(p);
  EXPECT_EQ(leakguard::get_traced_memory().current, 0u);
  leakguard::stop();
}

// A thread that starts while the tracer has no memory gets no table of its own: its blocks fall
// back to the shared table, which cannot grow either. They are counted as untraced, its frees and
// other threads' frees of its blocks work, and nothing the thread did is left traced.
TEST(TracerOutOfMemory, AThreadThatCannotGetATable) {
  leakguard::start();
  void* warm = std::malloc(8);  // this thread's table exists before memory runs out
  keep(warm);
  std::free(warm);
  const leakguard::TracerStats before = leakguard::get_tracer_stats();
  leakguard::detail::raw_inject_failures(1 << 30);
  std::vector<void*> left(500);
  std::atomic<int> line{0};
  std::size_t requested = 0;
  for (int i = 0; i < 500; ++i) requested += 100 + i;
  std::thread([&] {
    for (int i = 0; i < 500; ++i) {
      void* mine = std::malloc(7);
      keep(mine);
      std::free(mine);  // freed by the thread itself
      left[i] = std::malloc(100 + i); line = __LINE__;
    }
  }).join();
  const leakguard::TracerStats stats = leakguard::get_tracer_stats();
  leakguard::detail::raw_inject_failures(0);
  // Every block the thread kept is either traced or counted as untraced, never both. (The blocks
  // it freed were freed while still among the newest, which need no table memory.)
  const std::size_t untraced = stats.untraced_bytes - before.untraced_bytes;
  EXPECT_GT(stats.untraced_blocks - before.untraced_blocks, 0u) << "the thread's blocks all found room";
  EXPECT_EQ(bytes_at(line) + untraced, requested);
  const std::size_t traced_before_free = leakguard::get_traced_memory().current;
  for (void* p : left) std::free(p);
  EXPECT_EQ(bytes_at(line), 0u);
  EXPECT_EQ(traced_before_free - leakguard::get_traced_memory().current, requested - untraced);
  leakguard::stop();
}

}  // namespace
