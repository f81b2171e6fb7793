// main() for leakguard::gtest_main: GoogleTest's, with the leak listener installed.
#include <gtest/gtest.h>

#include "leakguard/gtest.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  leakguard::gtest::install();
  return RUN_ALL_TESTS();
}
