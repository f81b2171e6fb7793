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
// WHAT IS CHECKED
// Tracing starts when the program loads (before static constructors run), so blocks made during
// static initialisation are known. Each test is a window: it opens after gtest prints "[ RUN ]" and
// closes after TearDown and the fixture's destructor. At its end the blocks allocated in the window
// and still alive are classified (classify.hpp):
//   - a definite leak (nothing reachable points to it) fails the test, at the allocating line,
//     with the report: size, file:line, the source line and the traceback;
//   - a block still reachable ("held": a lazy static, a cache, a global container) passes; when a
//     test holds more than LEAKGUARD_HELD_NOTE (1 MiB) that way, one line says so on stderr.
// Each checked test records leakguard_leaked_bytes and leakguard_leaked_blocks as properties in
// the XML (or JSON) report, when GoogleTest writes one (--gtest_output or GTEST_OUTPUT).
// The failure is an ordinary non-fatal GoogleTest failure: it shows in the output, in
// --gtest_brief, in the XML and in the exit code.
//
// NOISE: what never fails a test, in any mode
// A surviving block counts only if the user's code asked for it: some frame of its stack is
// neither system code (the C and C++ runtimes, the loader, anything under /usr/include; see
// attribution.hpp) nor GoogleTest's (namespace testing::) nor leakguard's. So GoogleTest's own
// records (failures, SCOPED_TRACE, RecordProperty, printing) and the runtime's one-time
// initialisation (iostreams and locales, exception globals, tzset, the dynamic loader) are never a
// test's leak. A block the C runtime allocates for itself on the user's behalf (a thread's TLS, a
// stdio buffer) is not the user's either.
//
// RULES AND SETTINGS (the core's; test_checker.hpp has them all)
//   LEAKGUARD_MODE=off|report|fail|strict  fail (default): definite leaks fail. strict: any growth
//     of the user's fails, reachable or not (lazy statics too). report: findings go to stderr and
//     nothing fails. off: no tracing, no cost.
//   LEAKGUARD_NET_BUDGET / LEAKGUARD_PEAK_BUDGET=<size>: each test's net-growth tolerance and peak,
//     e.g. "256 KiB". Inside a test, LEAKGUARD_TEST_NET_BUDGET(limit) and
//     LEAKGUARD_TEST_PEAK_BUDGET(limit) set that test's own (the peak one counts from where it is
//     set: put it first).
//   --gtest_repeat=N (N >= 2), or LEAKGUARD_REPEAT=N when the command line sets no repeat: the
//     repeated-run rule. A test whose user memory grew in every run after the first fails in the
//     last run (a global container growing on every call), even if every block is reachable; one
//     that grew in some runs only, or in the first only (a lazy static), gets a line on stderr.
//     Growth is net: what the run left alive minus what it freed of the user's, per allocating
//     stack, so a run that replaces the object the run before made does not grow.
//   LEAKGUARD_SUPPRESSIONS=<file>: LSan-style `leak:<pattern>` lines (suppressions.hpp).
//   Each also as a flag on the test program's command line, which wins over the environment:
//     --leakguard_mode=strict --leakguard_net_budget="64 KiB" --leakguard_peak_budget=1MB
//     --leakguard_held_note=... --leakguard_skip=Suite.* --leakguard_repeat=3
//     --leakguard_suppressions=<file>
//   (GoogleTest leaves flags it does not know in argv; a main of your own must let them pass.)
//
// OPT-OUTS
//   LEAKGUARD_SKIP_LEAK_CHECK()              inside a test: skip its check
//   LEAKGUARD_SKIP_LEAK_CHECK_SUITE(Suite);  at namespace scope: skip every test of a suite
//                                            (and of its parameterized and typed instantiations)
//   LEAKGUARD_SKIP=Suite.*:Other.Name        from the environment, gtest filter syntax
//   EXPECT_LEAKS(n)                          inside a test: it leaks up to n blocks on purpose
//   leakguard::ignore_object(p)              p and what it reaches are never a leak
//   leakguard::ScopedUntraced                allocations made inside it are not traced at all
//
// THREADS
// A test's window holds every block allocated while it runs, by any thread. A block a background
// thread frees just after the test ends does not fail it: a failing check is retried after 1, 2,
// 4, 8 and 16 ms. A thread the test leaves running keeps its blocks reachable from its stack, so
// they count as held. A thread that has ended holds nothing: what it dropped before the test's end
// is the test's leak (its dead stack and TLS are not read; x86_64, classify.hpp). What a thread
// still allocates after the test ended belongs to the next test.
//
// WORKS WITH gtest_discover_tests (nothing is written to stdout; listing is untouched), ctest -j,
// --gtest_shuffle, --gtest_repeat, sharding, death tests in both styles (the child dies before its
// test ends, so it is never checked), parameterized and typed tests, exceptions out of a test,
// GTEST_SKIP (a skipped test is not judged), and GoogleTest 1.10 or later.
//
// LIMITS
// The scan is conservative: a stale copy of a block's address (in a live frame's unused slot, or
// in the unused part of a live heap chunk) makes a lost block look held. This errs toward
// passing, never toward a false failure. Freed heap memory, leakguard's own memory and glibc's
// arena bookkeeping are not scanned, and the chunks that stale words in the framework's live
// frames name are kept from the test's allocations (classify.hpp). The first report in a process
// loads the debug information to symbolize (about a second for a large binary).
//
// ASSERTIONS on a statement (an expression, a call, or a braced block, commas included), with
// `<<` messages like any GoogleTest assertion:
//   EXPECT_NO_LEAK(statement) / ASSERT_NO_LEAK(statement): fails when blocks the statement
//     allocated are definite leaks once it is done (in strict mode, too). The leaked blocks are
//     then ignored (ignore_object), so the listener does not report them a second time.
//   EXPECT_MEMORY_WITHIN(limit, statement) / ASSERT_MEMORY_WITHIN: fails when the statement's
//     peak traced memory above its start exceeds limit (bytes, or a string such as "24 MB"); the
//     report lists the blocks live when the limit was crossed and the allocation that crossed it.
//   EXPECT_NET_MEMORY_WITHIN(limit, statement) / ASSERT_NET_MEMORY_WITHIN: the same for the
//     statement's net growth.
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
      (::leakguard::skip_leak_checks_for(#suite ".*:*/" #suite ".*:" #suite "/*:*/" #suite "/*"), true)
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
