// What the running test said about itself from inside (skip_leak_check, expect_leaked_blocks,
// set_test_net_budget): kept by test_check.cpp until the test's window is finished. And whose a
// surviving block is, by the same rule the per-test check applies.
#pragma once
#include <cstdint>

#include "leakguard/classify.hpp"

namespace leakguard::detail {

// The user's code asked for it: not the runtime's, the framework's or leakguard's (attribution).
bool users_block(const Survivor& s);
// A suppression in force matches a frame of it.
bool suppressed(const Traceback& traceback);

bool test_skipped();
std::int64_t test_net_budget();  // bytes; -1: the test set none
void set_test_net_budget(std::int64_t bytes);
void forget_test_wishes();

}  // namespace leakguard::detail
