// take_snapshot(exclude_system, exclude_self)'s filter, for snapshots made otherwise (a budget's
// crossing, say).
#pragma once
#include <vector>

#include "core/tracer.hpp"
#include "leakguard/snapshot.hpp"

namespace leakguard::detail {
Snapshot exclude_runtime_and_self(Snapshot all, bool exclude_system, bool exclude_self);

// What changed from `before` to `after` (raw live blocks, tracer_collect()): the blocks only
// `before` has (freed since) and those only `after` has (new since), each as a snapshot. A block
// in both, with the same address, size and stack, adds nothing to any site's difference between
// the two, and only the others are symbolized: symbolizing every stack of a large heap (a test
// framework's registry, say) costs seconds, what changed is usually a handful.
struct Change {
  Snapshot gone, came;
};
Change change_between(std::vector<RawTrace> before, std::vector<RawTrace> after);
}
