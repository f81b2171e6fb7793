// Turns recorded return addresses into frames: function, file:line and inlined call sites, via
// backward-cpp over libdw. Runs only when a snapshot or report is built, never on the allocation
// path; each address is resolved once and cached, with the calling thread's tracing muted.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "leakguard/traceback.hpp"

namespace leakguard::detail {

// Frames of a whole recorded stack, most recent call first, each return address expanded into
// its inlined callees followed by the function that physically contains the call.
std::vector<Frame> symbolize_stack(const std::uintptr_t* addresses, std::size_t n);

// Addresses resolved so far (for benchmarks and tests of the cache).
std::size_t symbolizer_cache_size();

}  // namespace leakguard::detail
