// From the trace table's raw records (addresses and interned stack ids) to symbolized snapshots
// and tracebacks: the one place raw stacks become frames.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tracer.hpp"
#include "leakguard/snapshot.hpp"

namespace leakguard::detail {

// The traceback of an interned stack, symbolized (empty for id 0).
Traceback traceback_of(std::uint32_t stack_id);
Snapshot snapshot_from_raw(const std::vector<RawTrace>& raw, int traceback_limit);

}  // namespace leakguard::detail
