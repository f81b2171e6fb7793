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
// Not yet: strict mode, budgets, the repeated-run rule, opt-outs, suppressions and the
// LEAKGUARD_MODE switch (issue 5).
#pragma once

namespace leakguard::gtest {

// Appends the listener to GoogleTest's listeners. Call it once, after InitGoogleTest.
void install();

}  // namespace leakguard::gtest
