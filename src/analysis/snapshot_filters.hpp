// take_snapshot(exclude_system, exclude_self)'s filter, for snapshots made otherwise (a budget's
// crossing, say).
#pragma once
#include "leakguard/snapshot.hpp"

namespace leakguard::detail {
Snapshot exclude_runtime_and_self(Snapshot all, bool exclude_system, bool exclude_self);
}
