// leakguard for Catch2: a listener that fails the test case that leaks, and leak and memory
// assertions. A test file includes this header and nothing else.
//
// Link leakguard::catch2_main (it provides main), or leakguard::catch2 with a main of your own.
// Linking registers the listener; nothing else is needed (the library is linked whole, so the
// linker cannot drop the listener's registration, which nothing names). Tracing starts when the
// program loads.
//
// WHAT IS CHECKED
// Each run of a test case's body is a window: Catch2 runs the body once per leaf SECTION (and per
// GENERATE value), and each run is judged on its own. At the end of a run, the blocks allocated
// during it and still alive are classified (leakguard/classify.hpp): a definite leak fails the
// test case, as a Catch2 assertion at the allocating line with the report (size, file:line, the
// source line and the traceback); it shows in the console and JUnit reporters and in the exit
// code. Blocks still reachable (lazy statics, caches) pass. Catch2's own blocks (section
// trackers, stored results, reporters, redirected output) and the C/C++ runtime's never count.
//
// The rules and settings are the core's, the same as GoogleTest's (leakguard/test_checker.hpp):
// LEAKGUARD_MODE=off|report|fail|strict, LEAKGUARD_NET_BUDGET, LEAKGUARD_PEAK_BUDGET,
// LEAKGUARD_HELD_NOTE, LEAKGUARD_SKIP (test case names), LEAKGUARD_SUPPRESSIONS; a failing check
// is retried for 1 to 16 ms, so a block a background thread frees just after the run does not
// fail it.
//
// THREADS. A run's window holds every block allocated while it runs, by any thread. A thread the
// test case leaves running keeps its blocks reachable from its stack (held); one that has ended
// holds nothing, so what it dropped is the run's leak. What a thread allocates after the run ended
// belongs to the next run.
//
// REPEATED RUNS. LEAKGUARD_REPEAT=n (n >= 2) runs the whole session n times, as GoogleTest's
// --gtest_repeat does, and applies the repeated-run rule to each run of a body (a test case and
// the sections it went through, e.g. "parser / accepts a list"): one whose user memory grew in
// every session run after the first fails in the last one, even when every block is reachable (a
// global container that grows on every call); growth in the first run only (a lazy static, a
// first-use cache) is said on stderr and passes. Catch2 prints each session run's results; the
// exit code is the worst run's. leakguard::catch2_main does the reruns; a main of your own calls
// leakguard::catch2::run(session) in place of session.run().
//
// OPT-OUTS
//   the tag [noleakcheck]                       a test case that is not checked
//   LEAKGUARD_SKIP_LEAK_CHECK()                 inside a test case: skip this run's check
//   LEAKGUARD_EXPECT_LEAKS(n)                   inside: it leaks up to n blocks on purpose
//   LEAKGUARD_TEST_NET_BUDGET(x), LEAKGUARD_TEST_PEAK_BUDGET(x)   this run's own budgets
//   leakguard::ignore_object(p), leakguard::ScopedUntraced         as in leakguard.hpp
//
// ASSERTIONS, reported as Catch2 assertions with the statement's text, file:line and the
// INFO/CAPTURE context. The statement may be an expression, a call, or a braced block, commas
// included. CHECK_ forms go on after a failure, REQUIRE_ forms end the test case.
//   CHECK_NO_LEAK(statement), REQUIRE_NO_LEAK(statement): the blocks the statement allocated
//     are no definite leaks once it is done (strict mode: no growth at all).
//   CHECK_MEMORY_WITHIN(limit, statement), REQUIRE_MEMORY_WITHIN: its peak memory above its
//     start stays within limit (bytes, or "24 MB"); the report lists what was live at the crossing.
//   CHECK_NET_MEMORY_WITHIN, REQUIRE_NET_MEMORY_WITHIN: the same for its net growth.
// With CATCH_CONFIG_PREFIX_ALL they are CATCH_CHECK_NO_LEAK and so on. EXPECT_NO_LEAK,
// EXPECT_MEMORY_WITHIN and EXPECT_NET_MEMORY_WITHIN are the CHECK_ forms under GoogleTest's names.
//
// CATCH2 VERSIONS. Catch2 v2 (single header, catch2/catch.hpp) and v3 (catch2/catch_*.hpp) are
// told apart at compile time (LEAKGUARD_CATCH2_MAJOR, set by CMake, or the headers present).
// With v2, some CATCH_CONFIG_* settings change Catch2's class layouts (benchmarking among them):
// every file of the test program must use the ones the plugin was compiled with. leakguard::
// catch2 passes its settings on to whatever links it, and a test file that includes this header
// with other ones is named on stderr at start-up, and the plugin then checks nothing.
// Verified: Catch2 2.13.10 (Debian's; CI builds and runs the self-tests) and 3.7.1 (the
// self-tests built and run by hand against an installed copy; CI cannot install v3): 20 of 21
// pass there, the other misses a leak made a few frames below the test body, which a stale slot of
// Catch2's MultiReporter frame makes look held (README, "Catch2 versions"). Under v3 the exit code
// of a failing run is 42 and listing is --list-tests --verbosity quiet, as Catch2's own.
#pragma once

#if defined(LEAKGUARD_CATCH2_MAJOR)
#define LEAKGUARD_CATCH2_V LEAKGUARD_CATCH2_MAJOR
#elif __has_include(<catch2/catch_version_macros.hpp>)
#define LEAKGUARD_CATCH2_V 3
#else
#define LEAKGUARD_CATCH2_V 2
#endif

#if LEAKGUARD_CATCH2_V >= 3
// All of Catch2's test-writing macros (GENERATE, matchers, templates...), as v2's one header gave.
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif

#include <string>
#include <utility>

#include <leakguard/leakguard.hpp>

namespace leakguard::catch2 {
namespace detail {

// Hands a check's outcome to the assertion Catch2 is making.
// (The statement checks' messages begin with a newline, for GoogleTest's layout; Catch2 puts
// its message on a line of its own already.)
inline void report(Catch::AssertionHandler& handler, bool passed, const std::string& message) {
  std::string text = !message.empty() && message[0] == '\n' ? message.substr(1) : message;
#if LEAKGUARD_CATCH2_V >= 3
  handler.handleMessage(passed ? Catch::ResultWas::Ok : Catch::ResultWas::ExplicitFailure, std::move(text));
#else
  handler.handleMessage(passed ? Catch::ResultWas::Ok : Catch::ResultWas::ExplicitFailure, text);
#endif
}

// The CATCH_CONFIG_* settings that change Catch2 v2's class layouts, as this file sees them.
constexpr unsigned layout_settings() {
  unsigned settings = 0;
#if LEAKGUARD_CATCH2_V < 3 && defined(CATCH_CONFIG_ENABLE_BENCHMARKING)
  settings |= 1u;
#endif
#if defined(CATCH_CONFIG_DISABLE)
  settings |= 2u;
#endif
  return settings;
}

// Says which settings a file of the test program was compiled with; the plugin compares.
bool register_layout(unsigned settings, const char* file);

int runs_wanted();                  // LEAKGUARD_REPEAT, or 1
void begin_run(int run, int runs);  // run() starts the session's run number `run` of `runs`

namespace {
[[maybe_unused]] const bool layout_registered = register_layout(layout_settings(), __BASE_FILE__);
}  // namespace

}  // namespace detail

// Runs a session whose command line is applied (Catch::Session::applyCommandLine) once, or
// LEAKGUARD_REPEAT times for the repeated-run rule, and returns the worst run's exit code. For a
// main of your own, in place of session.run():
//
//   int main(int argc, char* argv[]) {
//     Catch::Session session;
//     if (int rc = session.applyCommandLine(argc, argv)) return rc;
//     return leakguard::catch2::run(session);
//   }
//
// A template so that it compiles where Catch::Session is complete (with Catch2 v2, the file that
// defines CATCH_CONFIG_RUNNER).
template <class Session>
int run(Session& session) {
  const int runs = detail::runs_wanted();
  int worst = 0;
  for (int i = 0; i < runs; ++i) {
    detail::begin_run(i, runs);
    const int rc = session.run();
    worst = rc > worst ? rc : worst;
  }
  return worst;
}

}  // namespace leakguard::catch2

#define LEAKGUARD_CATCH2_CHECK_(macro, disposition, check, call, ...)                                      \
  do {                                                                                                      \
    Catch::AssertionHandler catchAssertionHandler(Catch::StringRef(macro), CATCH_INTERNAL_LINEINFO,        \
                                                  Catch::StringRef(#__VA_ARGS__), disposition);            \
    check lg_check_;                                                                                        \
    bool lg_passed_ = true;                                                                                 \
    try {                                                                                                   \
      lg_passed_ = lg_check_.call;                                                                          \
    } catch (...) {                                                                                         \
      catchAssertionHandler.handleUnexpectedInflightException();                                           \
      catchAssertionHandler.complete();                                                                     \
      break;                                                                                                \
    }                                                                                                       \
    ::leakguard::catch2::detail::report(catchAssertionHandler, lg_passed_, lg_check_.message());            \
    catchAssertionHandler.complete();                                                                       \
  } while (false)

#define LEAKGUARD_CATCH2_NO_LEAK_(macro, disposition, ...) \
  LEAKGUARD_CATCH2_CHECK_(macro, disposition, ::leakguard::detail::NoLeakCheck, run([&] { __VA_ARGS__; }), __VA_ARGS__)
#define LEAKGUARD_CATCH2_WITHIN_(macro, disposition, kind, limit, ...)                                         \
  LEAKGUARD_CATCH2_CHECK_(macro, disposition, ::leakguard::detail::BudgetCheck, run(kind, limit, [&] { __VA_ARGS__; }), \
                          __VA_ARGS__)

#define LEAKGUARD_CATCH2_CONTINUE_ ::Catch::ResultDisposition::ContinueOnFailure
#define LEAKGUARD_CATCH2_STOP_ ::Catch::ResultDisposition::Normal
#define LEAKGUARD_CATCH2_PEAK_ ::leakguard::BudgetKind::kPeak
#define LEAKGUARD_CATCH2_NET_ ::leakguard::BudgetKind::kNet

#if defined(CATCH_CONFIG_PREFIX_ALL)
#define CATCH_CHECK_NO_LEAK(...) LEAKGUARD_CATCH2_NO_LEAK_("CATCH_CHECK_NO_LEAK", LEAKGUARD_CATCH2_CONTINUE_, __VA_ARGS__)
#define CATCH_REQUIRE_NO_LEAK(...) LEAKGUARD_CATCH2_NO_LEAK_("CATCH_REQUIRE_NO_LEAK", LEAKGUARD_CATCH2_STOP_, __VA_ARGS__)
#define CATCH_CHECK_MEMORY_WITHIN(limit, ...) \
  LEAKGUARD_CATCH2_WITHIN_("CATCH_CHECK_MEMORY_WITHIN", LEAKGUARD_CATCH2_CONTINUE_, LEAKGUARD_CATCH2_PEAK_, limit, __VA_ARGS__)
#define CATCH_REQUIRE_MEMORY_WITHIN(limit, ...) \
  LEAKGUARD_CATCH2_WITHIN_("CATCH_REQUIRE_MEMORY_WITHIN", LEAKGUARD_CATCH2_STOP_, LEAKGUARD_CATCH2_PEAK_, limit, __VA_ARGS__)
#define CATCH_CHECK_NET_MEMORY_WITHIN(limit, ...) \
  LEAKGUARD_CATCH2_WITHIN_("CATCH_CHECK_NET_MEMORY_WITHIN", LEAKGUARD_CATCH2_CONTINUE_, LEAKGUARD_CATCH2_NET_, limit, __VA_ARGS__)
#define CATCH_REQUIRE_NET_MEMORY_WITHIN(limit, ...) \
  LEAKGUARD_CATCH2_WITHIN_("CATCH_REQUIRE_NET_MEMORY_WITHIN", LEAKGUARD_CATCH2_STOP_, LEAKGUARD_CATCH2_NET_, limit, __VA_ARGS__)
#else
#define CHECK_NO_LEAK(...) LEAKGUARD_CATCH2_NO_LEAK_("CHECK_NO_LEAK", LEAKGUARD_CATCH2_CONTINUE_, __VA_ARGS__)
#define REQUIRE_NO_LEAK(...) LEAKGUARD_CATCH2_NO_LEAK_("REQUIRE_NO_LEAK", LEAKGUARD_CATCH2_STOP_, __VA_ARGS__)
#define CHECK_MEMORY_WITHIN(limit, ...) \
  LEAKGUARD_CATCH2_WITHIN_("CHECK_MEMORY_WITHIN", LEAKGUARD_CATCH2_CONTINUE_, LEAKGUARD_CATCH2_PEAK_, limit, __VA_ARGS__)
#define REQUIRE_MEMORY_WITHIN(limit, ...) \
  LEAKGUARD_CATCH2_WITHIN_("REQUIRE_MEMORY_WITHIN", LEAKGUARD_CATCH2_STOP_, LEAKGUARD_CATCH2_PEAK_, limit, __VA_ARGS__)
#define CHECK_NET_MEMORY_WITHIN(limit, ...) \
  LEAKGUARD_CATCH2_WITHIN_("CHECK_NET_MEMORY_WITHIN", LEAKGUARD_CATCH2_CONTINUE_, LEAKGUARD_CATCH2_NET_, limit, __VA_ARGS__)
#define REQUIRE_NET_MEMORY_WITHIN(limit, ...) \
  LEAKGUARD_CATCH2_WITHIN_("REQUIRE_NET_MEMORY_WITHIN", LEAKGUARD_CATCH2_STOP_, LEAKGUARD_CATCH2_NET_, limit, __VA_ARGS__)
#endif

// GoogleTest's spellings, for teams moving between the two (Catch2 has no macros of these names).
#if !defined(EXPECT_NO_LEAK)
#define EXPECT_NO_LEAK(...) LEAKGUARD_CATCH2_NO_LEAK_("EXPECT_NO_LEAK", LEAKGUARD_CATCH2_CONTINUE_, __VA_ARGS__)
#define EXPECT_MEMORY_WITHIN(limit, ...) \
  LEAKGUARD_CATCH2_WITHIN_("EXPECT_MEMORY_WITHIN", LEAKGUARD_CATCH2_CONTINUE_, LEAKGUARD_CATCH2_PEAK_, limit, __VA_ARGS__)
#define EXPECT_NET_MEMORY_WITHIN(limit, ...) \
  LEAKGUARD_CATCH2_WITHIN_("EXPECT_NET_MEMORY_WITHIN", LEAKGUARD_CATCH2_CONTINUE_, LEAKGUARD_CATCH2_NET_, limit, __VA_ARGS__)
#endif
