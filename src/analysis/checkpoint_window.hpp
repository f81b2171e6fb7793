// The trace table's window a Checkpoint began (tracer_begin_window) and how often window ids had
// wrapped then, for the analysis code that asks the tracer about that window itself (the
// repeated-run rule's departure log).
#pragma once
#include <cstdint>

#include "leakguard/classify.hpp"

namespace leakguard::detail {
struct CheckpointWindow {
  std::uint64_t id = 0;
  std::uint64_t wraps = 0;
};
CheckpointWindow checkpoint_window(const Checkpoint& checkpoint) noexcept;
}
