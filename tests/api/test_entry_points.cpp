// Every interposed entry point is traced with its requested size, and every release forgets
// exactly its block: get_traced_memory(), snapshot statistics and compare_to agree to the byte.
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <new>

#include "test_support.hpp"

extern "C" void* reallocarray(void*, std::size_t, std::size_t);  // glibc >= 2.26, _DEFAULT_SOURCE

namespace {

using lgtest::keep;
using lgtest::totals;

struct EntryPoints : ::testing::Test {
  lgtest::Tracing tracing;
  lgtest::Totals base = totals();

  // Checks that what is traced now is the baseline plus `bytes` in `blocks` blocks.
  void expect_growth(std::size_t bytes, std::size_t blocks) {
    const lgtest::Totals now = totals();
    EXPECT_EQ(now.bytes - base.bytes, bytes);
    EXPECT_EQ(now.blocks - base.blocks, blocks);
  }
};

TEST_F(EntryPoints, MallocAndFree) {
  void* p = std::malloc(100);
  keep(p);
  expect_growth(100, 1);
  std::free(p);
  expect_growth(0, 0);
  std::free(nullptr);
  expect_growth(0, 0);
}

TEST_F(EntryPoints, MallocOfZeroBytesIsABlockOfZeroBytes) {
  void* p = std::malloc(0);
  keep(p);
  ASSERT_NE(p, nullptr);
  expect_growth(0, 1);
  std::free(p);
  expect_growth(0, 0);
}

TEST_F(EntryPoints, CallocCountsElementsTimesSize) {
  auto* p = static_cast<int*>(std::calloc(25, sizeof(int)));
  keep(p);
  expect_growth(100, 1);
  for (int i = 0; i < 25; ++i) EXPECT_EQ(p[i], 0);
  std::free(p);
  expect_growth(0, 0);
}

TEST_F(EntryPoints, ReallocGrowShrinkMoveAndEdgeCases) {
  void* p = std::realloc(nullptr, 10);  // realloc(nullptr, n) is malloc(n)
  keep(p);
  expect_growth(10, 1);
  p = std::realloc(p, 5000);  // grow (moves: 10 B and 5000 B are in different bins)
  keep(p);
  expect_growth(5000, 1);
  p = std::realloc(p, 20);  // shrink
  keep(p);
  expect_growth(20, 1);
  // Force a move: a neighbour blocks in-place growth.
  void* neighbour = std::malloc(16);
  keep(neighbour);
  void* moved = std::realloc(p, 1 << 20);
  keep(moved);
  expect_growth((1 << 20) + 16, 2);
  std::free(neighbour);
  EXPECT_EQ(std::realloc(moved, 0), nullptr);  // glibc: realloc(p, 0) frees p
  expect_growth(0, 0);
}

TEST_F(EntryPoints, ReallocarrayChecksOverflow) {
  void* p = reallocarray(nullptr, 8, 16);
  keep(p);
  expect_growth(128, 1);
  errno = 0;
  volatile std::size_t huge = SIZE_MAX / 2;  // volatile: the overflow must happen at run time
  EXPECT_EQ(reallocarray(p, huge, 4), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  expect_growth(128, 1);  // the block is untouched after a failed reallocarray
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuse-after-free"  // a failed reallocarray leaves p valid
  void* q = reallocarray(p, 4, 4);
#pragma GCC diagnostic pop
  keep(q);
  expect_growth(16, 1);
  std::free(q);
  expect_growth(0, 0);
}

TEST_F(EntryPoints, AlignedFamily) {
  void* a = nullptr;
  ASSERT_EQ(posix_memalign(&a, 64, 200), 0);
  keep(a);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a) % 64, 0u);
  void* b = aligned_alloc(128, 256);
  keep(b);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b) % 128, 0u);
  void* c = memalign(32, 33);
  keep(c);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(c) % 32, 0u);
  void* d = valloc(10);
  keep(d);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(d) % 4096, 0u);
  void* e = pvalloc(10);
  keep(e);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(e) % 4096, 0u);
  expect_growth(200 + 256 + 33 + 10 + 10, 5);
  for (void* p : {a, b, c, d, e}) std::free(p);
  expect_growth(0, 0);
}

TEST_F(EntryPoints, EveryOperatorNewAndDeleteVariant) {
  constexpr auto al = std::align_val_t{64};
  void* p1 = ::operator new(11);
  void* p2 = ::operator new[](12);
  void* p3 = ::operator new(13, al);
  void* p4 = ::operator new[](14, al);
  void* p5 = ::operator new(15, std::nothrow);
  void* p6 = ::operator new[](16, std::nothrow);
  void* p7 = ::operator new(17, al, std::nothrow);
  void* p8 = ::operator new[](18, al, std::nothrow);
  for (void* p : {p1, p2, p3, p4, p5, p6, p7, p8}) keep(p);
  for (void* p : {p3, p4, p7, p8}) EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 64, 0u);
  expect_growth(11 + 12 + 13 + 14 + 15 + 16 + 17 + 18, 8);

  ::operator delete(p1);
  expect_growth(12 + 13 + 14 + 15 + 16 + 17 + 18, 7);
  ::operator delete[](p2, std::size_t{12});  // sized
  ::operator delete(p3, al);
  ::operator delete[](p4, std::size_t{14}, al);  // sized + aligned
  ::operator delete(p5, std::nothrow);
  ::operator delete[](p6, std::nothrow);
  ::operator delete(p7, al, std::nothrow);
  ::operator delete[](p8, al, std::nothrow);
  expect_growth(0, 0);

  // The remaining delete overloads: sized non-array, aligned array, sized aligned non-array.
  void* q1 = ::operator new(21);
  void* q2 = ::operator new[](22, al);
  void* q3 = ::operator new(23, al);
  void* q4 = ::operator new[](24);
  for (void* q : {q1, q2, q3, q4}) keep(q);
  expect_growth(21 + 22 + 23 + 24, 4);
  ::operator delete(q1, std::size_t{21});
  ::operator delete[](q2, al);
  ::operator delete(q3, std::size_t{23}, al);
  ::operator delete[](q4);
  expect_growth(0, 0);
}

TEST_F(EntryPoints, NewExpressionsCountTheObjectSize) {
  struct Obj {
    char bytes[40];
  };
  struct alignas(128) Wide {
    char bytes[8];
  };
  Obj* o = new Obj;
  Obj* arr = new Obj[3];  // trivially destructible: no array cookie
  Wide* w = new Wide;
  keep(o);
  keep(arr);
  keep(w);
  expect_growth(40 + 120 + 128, 3);
  delete o;
  delete[] arr;
  delete w;
  expect_growth(0, 0);
}

TEST_F(EntryPoints, SnapshotStatisticsAndCompareToAgreeWithTracedMemory) {
  const leakguard::Snapshot before = lgtest::snapshot_of_file(__FILE__);
  void* blocks[4];
  for (auto& b : blocks) {
    b = std::malloc(300);  // all four on this one line
    keep(b);
  }
  const int line = __LINE__ - 3;
  void* other = std::calloc(2, 50);
  keep(other);
  const int other_line = __LINE__ - 2;
  const leakguard::Snapshot after = lgtest::snapshot_of_file(__FILE__);

  const auto diffs = after.compare_to(before, "lineno");
  ASSERT_GE(diffs.size(), 2u);
  EXPECT_EQ(diffs[0].traceback[0].lineno, line);
  EXPECT_EQ(diffs[0].size_diff, 1200);
  EXPECT_EQ(diffs[0].count_diff, 4);
  EXPECT_EQ(diffs[1].traceback[0].lineno, other_line);
  EXPECT_EQ(diffs[1].size_diff, 100);
  EXPECT_EQ(diffs[1].count_diff, 1);
  for (std::size_t i = 2; i < diffs.size(); ++i) EXPECT_EQ(diffs[i].size_diff, 0) << diffs[i].str();
  EXPECT_EQ(lgtest::total_size(after) - lgtest::total_size(before), 1300u);

  for (void* b : blocks) std::free(b);
  std::free(other);
  const auto gone = lgtest::snapshot_of_file(__FILE__).compare_to(after, "lineno");
  ASSERT_GE(gone.size(), 2u);
  EXPECT_EQ(gone[0].size_diff, -1200);
  EXPECT_EQ(gone[0].count, 0u);
}

TEST_F(EntryPoints, AllocationsInsideSharedLibrariesAreTracedToo) {
  char* dup = strdup("twelve chars");  // libc calls malloc itself
  keep(dup);
  expect_growth(13, 1);
  auto* s = new std::string(200, 'z');  // libstdc++'s out-of-line code calls operator new
  s->append(300, 'z');
  keep(s->data());
  expect_growth(13 + sizeof(std::string) + 501, 3);
  std::free(dup);
  delete s;
  expect_growth(0, 0);
}

TEST_F(EntryPoints, FreeingABlockAllocatedBeforeTracingStartedLeavesCountsAlone) {
  leakguard::stop();
  void* early = std::malloc(64);
  void* early2 = std::malloc(64);
  keep(early);
  keep(early2);
  leakguard::start();
  base = totals();
  std::free(early);
  expect_growth(0, 0);
  void* grown = std::realloc(early2, 4096);  // realloc of an untraced block traces the result
  keep(grown);
  expect_growth(4096, 1);
  std::free(grown);
  expect_growth(0, 0);
}

}  // namespace
