// The allocator contract still holds with leakguard linked and tracing on: failures, errno,
// the new-handler, alignment checks and edge cases behave exactly as glibc and the standard say.
#include <gtest/gtest.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <new>

#include <leakguard/leakguard.hpp>

namespace {

void keep(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

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

}  // namespace
