// The allocator contract still holds with leakguard linked and tracing on: failures, errno,
// the new-handler, alignment checks and edge cases behave exactly as glibc and the standard say.
#include <gtest/gtest.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <malloc.h>

#include <atomic>
#include <new>
#include <thread>
#include <vector>

#include <leakguard/leakguard.hpp>

#include "watchdog.hpp"

namespace {

using robust::keep;

bool aligned(const void* p, std::size_t alignment) {
  return reinterpret_cast<std::uintptr_t>(p) % alignment == 0;
}

struct Contract : ::testing::Test {
  void SetUp() override { leakguard::start(); }
  void TearDown() override { leakguard::stop(); }
  // Volatile so the compiler sees an unknown, impossible size at run time.
  volatile std::size_t impossible = SIZE_MAX - 4096;
};

TEST_F(Contract, NewThrowsBadAllocAndNothrowNewReturnsNull) {
  EXPECT_THROW(keep(::operator new(impossible)), std::bad_alloc);
  EXPECT_THROW(keep(::operator new[](impossible)), std::bad_alloc);
  EXPECT_THROW(keep(::operator new(impossible, std::align_val_t{64})), std::bad_alloc);
  EXPECT_EQ(::operator new(impossible, std::nothrow), nullptr);
  EXPECT_EQ(::operator new[](impossible, std::align_val_t{64}, std::nothrow), nullptr);
  EXPECT_EQ(leakguard::get_tracer_stats().untraced_blocks, 0u);
}

int g_handler_calls = 0;
void handler_that_gives_up() {
  if (++g_handler_calls == 3) std::set_new_handler(nullptr);  // the next failure throws
}

TEST_F(Contract, NewCallsTheNewHandlerUntilItGivesUp) {
  g_handler_calls = 0;
  std::set_new_handler(handler_that_gives_up);
  EXPECT_THROW(keep(::operator new(impossible)), std::bad_alloc);
  EXPECT_EQ(g_handler_calls, 3);
  std::set_new_handler(nullptr);
}

TEST_F(Contract, MallocFailsWithEnomemAndCallocChecksOverflow) {
  errno = 0;
  EXPECT_EQ(std::malloc(impossible), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  volatile std::size_t half = SIZE_MAX / 2;
  EXPECT_EQ(std::calloc(half, 4), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  void* p = std::malloc(16);
  keep(p);
  EXPECT_EQ(std::realloc(p, impossible), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  ASSERT_TRUE(leakguard::get_object_traceback(p).has_value()) << "a failed realloc keeps the block traced";
  std::free(p);
  EXPECT_FALSE(leakguard::get_object_traceback(p).has_value());
}

TEST_F(Contract, AlignmentArgumentsAreCheckedAsGlibcDoes) {
  void* p = reinterpret_cast<void*>(0x1);
  EXPECT_EQ(posix_memalign(&p, 3, 16), EINVAL);
  EXPECT_EQ(posix_memalign(&p, 4, 16), EINVAL);  // not a multiple of sizeof(void*)
  EXPECT_EQ(p, reinterpret_cast<void*>(0x1));      // untouched on failure
  EXPECT_EQ(posix_memalign(&p, 4096, 10), 0);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 4096, 0u);
  std::free(p);
  errno = 0;
  EXPECT_EQ(posix_memalign(&p, 64, impossible), ENOMEM);
}

TEST_F(Contract, EdgeCasesWork) {
  std::free(nullptr);
  void* p = std::malloc(10);
  keep(p);
  EXPECT_EQ(std::realloc(p, 0), nullptr);  // frees p
  ::operator delete(nullptr);
  ::operator delete[](nullptr);
  void* z = ::operator new(0);  // a unique non-null pointer
  void* z2 = ::operator new(0);
  EXPECT_NE(z, nullptr);
  EXPECT_NE(z, z2);
  ::operator delete(z);
  ::operator delete(z2);
  EXPECT_EQ(leakguard::get_traced_memory().current, 0u);
}

TEST_F(Contract, ErrnoIsPreservedAcrossTracedCalls) {
  errno = EDOM;
  void* p = std::malloc(100);
  keep(p);
  EXPECT_EQ(errno, EDOM);
  std::free(p);
  EXPECT_EQ(errno, EDOM);
  void* q = ::operator new(100);
  keep(q);
  ::operator delete(q);
  EXPECT_EQ(errno, EDOM);
}

struct HandlerGaveUp {};
int g_throwing_calls = 0;
void handler_that_throws() {
  ++g_throwing_calls;
  throw HandlerGaveUp{};
}

TEST_F(Contract, ANewHandlerMayThrowItsOwnException) {
  g_throwing_calls = 0;
  std::set_new_handler(handler_that_throws);
  EXPECT_THROW(keep(::operator new(impossible)), HandlerGaveUp);
  EXPECT_EQ(g_throwing_calls, 1);
  // nothrow new calls the handler too, and turns its exception into nullptr.
  EXPECT_EQ(::operator new(impossible, std::nothrow), nullptr);
  EXPECT_EQ(g_throwing_calls, 2);
  std::set_new_handler(nullptr);
  // A handler that frees memory and lets the allocation succeed on the retry.
  g_handler_calls = 0;
  std::set_new_handler(handler_that_gives_up);
  EXPECT_THROW(keep(::operator new[](impossible)), std::bad_alloc);
  EXPECT_EQ(g_handler_calls, 3);
  EXPECT_EQ(leakguard::get_traced_memory().current, 0u);
}

TEST_F(Contract, EveryAlignedEntryPointAlignsAndIsTraced) {
  std::vector<void*> blocks;
  blocks.reserve(64);  // no traced growth between the two totals
  const std::size_t base = leakguard::get_traced_memory().current;
  std::size_t bytes = 0;
  for (std::size_t alignment : {16, 32, 64, 256, 4096, 65536}) {
    void* a = aligned_alloc(alignment, 3 * alignment);
    ASSERT_NE(a, nullptr);
    EXPECT_TRUE(aligned(a, alignment)) << "aligned_alloc " << alignment;
    void* m = memalign(alignment, 7);
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(aligned(m, alignment)) << "memalign " << alignment;
    void* n = ::operator new(5, std::align_val_t{alignment});
    EXPECT_TRUE(aligned(n, alignment)) << "operator new " << alignment;
    ::operator delete(n, std::align_val_t{alignment});
    blocks.push_back(a);
    blocks.push_back(m);
    bytes += 3 * alignment + 7;
  }
  void* v = valloc(10);
  EXPECT_TRUE(aligned(v, 4096));
  void* pv = pvalloc(10);
  EXPECT_TRUE(aligned(pv, 4096));
  blocks.push_back(v);
  blocks.push_back(pv);
  bytes += 20;
  EXPECT_EQ(leakguard::get_traced_memory().current - base, bytes);
  for (void* p : blocks) {
    EXPECT_TRUE(leakguard::get_object_traceback(p).has_value());
    std::free(p);
  }
  EXPECT_EQ(leakguard::get_traced_memory().current, base);
}

TEST_F(Contract, CallocReallocAndReallocarrayEdges) {
  auto* z = static_cast<unsigned char*>(std::calloc(100, 3));
  ASSERT_NE(z, nullptr);
  for (int i = 0; i < 300; ++i) ASSERT_EQ(z[i], 0);
  EXPECT_EQ(leakguard::get_traced_memory().current, 300u);
  void* r = std::realloc(nullptr, 50);  // as malloc
  EXPECT_EQ(leakguard::get_traced_memory().current, 350u);
  r = std::realloc(r, 5000);  // grows, probably moves
  EXPECT_EQ(leakguard::get_traced_memory().current, 5300u);
  r = std::realloc(r, 10);  // shrinks in place
  EXPECT_EQ(leakguard::get_traced_memory().current, 310u);
  errno = 0;
  volatile std::size_t half = SIZE_MAX / 2;
  void* failed = reallocarray(r, half, 4);
  EXPECT_EQ(failed, nullptr);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_EQ(leakguard::get_traced_memory().current, 310u) << "a failed reallocarray keeps the block";
  if (failed == nullptr) r = reallocarray(r, 20, 4);
  EXPECT_EQ(leakguard::get_traced_memory().current, 380u);
  std::free(r);
  std::free(z);
  EXPECT_EQ(leakguard::get_traced_memory().current, 0u);
}

// Blocks from before start() are unknown to the tracer: freeing or reallocating them with tracing
// on works and changes no count, both while this thread's table is the only one and once other
// threads have tables of their own (then the free has to ask every table).
void free_and_realloc_blocks_from_before_tracing(bool other_tables) {
  leakguard::stop();
  std::vector<void*> old_blocks;
  for (int i = 0; i < 300; ++i) old_blocks.push_back(std::malloc(64));
  void* old_realloc = std::malloc(64);
  void* old_shrunk = std::malloc(4000);
  leakguard::start();
  std::thread other;
  std::atomic<bool> release{false};
  void* others_block = nullptr;
  if (other_tables) {
    std::atomic<bool> ready{false};
    other = std::thread([&] {
      others_block = std::malloc(1234);
      ready = true;
      while (!release.load()) std::this_thread::yield();
    });
    while (!ready.load()) std::this_thread::yield();
  }
  void* mine = std::malloc(100);
  keep(mine);
  // (Creating a thread also makes glibc allocate, so the baseline is measured, not assumed.)
  const std::size_t traced = leakguard::get_traced_memory().current;
  ASSERT_GE(traced, other_tables ? 1334u : 100u);
  if (!other_tables) {
    ASSERT_EQ(traced, 100u);
  }
  errno = EDOM;
  for (void* p : old_blocks) std::free(p);  // several batches of frees the tracer must resolve
  EXPECT_EQ(errno, EDOM) << "free() changed errno";
  EXPECT_EQ(leakguard::get_traced_memory().current, traced);
  void* grown = std::realloc(old_realloc, 100000);  // now a traced block of the new size
  ASSERT_NE(grown, nullptr);
  EXPECT_EQ(leakguard::get_traced_memory().current, traced + 100000);
  void* shrunk = std::realloc(old_shrunk, 16);  // in place: the same address, now traced
  ASSERT_NE(shrunk, nullptr);
  EXPECT_EQ(leakguard::get_traced_memory().current, traced + 100016);
  EXPECT_TRUE(leakguard::get_object_traceback(shrunk).has_value());
  std::free(grown);
  std::free(shrunk);
  std::free(mine);
  EXPECT_EQ(leakguard::get_traced_memory().current, traced - 100);
  if (other_tables) {
    release = true;
    other.join();
    ASSERT_TRUE(leakguard::get_object_traceback(others_block).has_value());
    std::free(others_block);
    EXPECT_FALSE(leakguard::get_object_traceback(others_block).has_value());
  } else {
    EXPECT_EQ(leakguard::get_traced_memory().current, 0u);
  }
  EXPECT_EQ(leakguard::get_tracer_stats().untraced_blocks, 0u);
}

TEST_F(Contract, BlocksFromBeforeTracingWithOneTable) {
  free_and_realloc_blocks_from_before_tracing(false);
}

TEST_F(Contract, BlocksFromBeforeTracingWithOtherThreadsTables) {
  robust::Watchdog watchdog(20);
  free_and_realloc_blocks_from_before_tracing(true);
}

// errno is kept across frees that make the tracer stop every thread (a full batch of frees of
// another thread's blocks) and across allocations that make it grow its tables.
TEST_F(Contract, ErrnoIsPreservedWhenTheTracerDoesHeavyWork) {
  robust::Watchdog watchdog(20);
  std::vector<void*> theirs;
  theirs.reserve(1000);
  std::vector<void*> mine;
  mine.reserve(20000);
  std::thread([&] {
    for (int i = 0; i < 1000; ++i) theirs.push_back(std::malloc(32));
  }).join();
  const std::size_t base = leakguard::get_traced_memory().current;
  errno = ERANGE;
  for (int i = 0; i < 20000; ++i) mine.push_back(std::malloc(16));  // the table grows many times
  EXPECT_EQ(errno, ERANGE);
  for (void* p : theirs) std::free(p);
  EXPECT_EQ(errno, ERANGE);
  for (void* p : mine) std::free(p);
  EXPECT_EQ(errno, ERANGE);
  EXPECT_EQ(base - leakguard::get_traced_memory().current, 1000u * 32u);
}

}  // namespace
