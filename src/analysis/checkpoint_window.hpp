// The trace table's window a Checkpoint began (tracer_begin_window), for the analysis code that
// asks the tracer about that window itself (the repeated-run rule's departure log).
#pragma once
#include <cstdint>

#include "leakguard/classify.hpp"

namespace leakguard::detail {
std::uint64_t checkpoint_window(const Checkpoint& checkpoint) noexcept;
}
