// leakguard for GoogleTest: a listener that fails the test that leaks.
//
// Link leakguard::gtest_main instead of GTest::gtest_main, or, with a main of your own, link
// leakguard::gtest and install the listener after InitGoogleTest:
//
//   int main(int argc, char** argv) {
//     testing::InitGoogleTest(&argc, argv);
//     leakguard::gtest::install();
//     return RUN_ALL_TESTS();
//   }
//
// Tracing starts when the program loads (before static constructors run), so blocks made during
// static initialisation are known. Each test is a window: it opens after gtest prints "[ RUN ]" and
// closes after the fixture is destroyed. At its end, the blocks of the window still alive are
// classified (classify.hpp): a definite leak (nothing reachable points to it) fails the test, with
// a report on the allocating line; blocks still held (caches, statics, gtest's own records) do not.
// Each test records leakguard_leaked_bytes and leakguard_leaked_blocks as XML properties.
//
// Not yet: per-test budgets, the repeated-run rule, suite-level opt-outs (issue 5).
//
// Assertions on a statement (an expression, a call, or a braced block, commas included), with
// `<<` messages like any GoogleTest assertion:
//   EXPECT_NO_LEAK(statement) / ASSERT_NO_LEAK(statement): fails when blocks the statement
//     allocated are definite leaks once it is done. The leaked blocks are then ignored
//     (ignore_object), so the listener does not report them a second time.
//   EXPECT_MEMORY_WITHIN(limit, statement) / ASSERT_MEMORY_WITHIN: fails when the statement's
//     peak traced memory above its start exceeds limit (bytes, or a string such as "24 MB"); the
//     report lists the blocks live when the limit was crossed and the allocation that crossed it.
//   EXPECT_NET_MEMORY_WITHIN(limit, statement) / ASSERT_NET_MEMORY_WITHIN: the same for the
//     statement's net growth.
//
// Opt-outs, inside a test: LEAKGUARD_SKIP_LEAK_CHECK() skips its check; EXPECT_LEAKS(n) says it
// leaks up to n blocks on purpose (more fails). LEAKGUARD_SUPPRESSIONS names a
// file of LSan-style `leak:<pattern>` lines (suppressions.hpp); LEAKGUARD_MODE=off|report|fail|
// strict switches the rule (test_check.hpp).
#pragma once
#include <gtest/gtest.h>

#include <leakguard/leakguard.hpp>

namespace leakguard::gtest {

// Appends the listener to GoogleTest's listeners. Call it once, after InitGoogleTest.
void install();

}  // namespace leakguard::gtest

#define EXPECT_LEAKS(blocks) LEAKGUARD_EXPECT_LEAKS(blocks)
#define LEAKGUARD_SKIP_LEAK_CHECK_SUITE(suite)                                              \
  static const bool LEAKGUARD_GTEST_CAT_(lg_skip_suite_, __LINE__) [[maybe_unused]] = \
      (::leakguard::skip_leak_checks_for(#suite ".*:*/" #suite ".*"), true)
#define LEAKGUARD_GTEST_CAT_(a, b) LEAKGUARD_GTEST_CAT2_(a, b)
#define LEAKGUARD_GTEST_CAT2_(a, b) a##b

#define LEAKGUARD_GTEST_CHECK_(check, call, fail)                                              \
  switch (0)                                                                                    \
  case 0:                                                                                       \
  default:                                                                                      \
    if (check lg_gtest_check_{}; lg_gtest_check_.call)                                          \
      ;                                                                                         \
    else                                                                                        \
      fail(lg_gtest_check_.message().c_str())

#define EXPECT_NO_LEAK(...)                                                                         \
  LEAKGUARD_GTEST_CHECK_(::leakguard::detail::NoLeakCheck, run([&] { __VA_ARGS__; }), \
                         GTEST_NONFATAL_FAILURE_)
#define ASSERT_NO_LEAK(...)                                                                         \
  LEAKGUARD_GTEST_CHECK_(::leakguard::detail::NoLeakCheck, run([&] { __VA_ARGS__; }), \
                         GTEST_FATAL_FAILURE_)
#define EXPECT_MEMORY_WITHIN(limit, ...)                                                        \
  LEAKGUARD_GTEST_CHECK_(::leakguard::detail::BudgetCheck,                               \
                         run(::leakguard::BudgetKind::kPeak, limit, [&] { __VA_ARGS__; }),       \
                         GTEST_NONFATAL_FAILURE_)
#define ASSERT_MEMORY_WITHIN(limit, ...)                                                        \
  LEAKGUARD_GTEST_CHECK_(::leakguard::detail::BudgetCheck,                               \
                         run(::leakguard::BudgetKind::kPeak, limit, [&] { __VA_ARGS__; }),       \
                         GTEST_FATAL_FAILURE_)
#define EXPECT_NET_MEMORY_WITHIN(limit, ...)                                                    \
  LEAKGUARD_GTEST_CHECK_(::leakguard::detail::BudgetCheck,                               \
                         run(::leakguard::BudgetKind::kNet, limit, [&] { __VA_ARGS__; }),        \
                         GTEST_NONFATAL_FAILURE_)
#define ASSERT_NET_MEMORY_WITHIN(limit, ...)                                                    \
  LEAKGUARD_GTEST_CHECK_(::leakguard::detail::BudgetCheck,                               \
                         run(::leakguard::BudgetKind::kNet, limit, [&] { __VA_ARGS__; }),        \
                         GTEST_FATAL_FAILURE_)
