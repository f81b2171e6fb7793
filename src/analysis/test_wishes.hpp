// What the running test said about itself from inside (skip_leak_check, expect_leaked_blocks,
// set_test_net_budget): kept by test_check.cpp until the test's window is finished.
#pragma once
#include <cstdint>

namespace leakguard::detail {

bool test_skipped();
std::int64_t test_net_budget();  // bytes; -1: the test set none
void set_test_net_budget(std::int64_t bytes);
void forget_test_wishes();

}  // namespace leakguard::detail
