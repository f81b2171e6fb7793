// Captures the return addresses of the current call stack on the allocation hot path: a
// frame-pointer walk that steps frames of code built without frame pointers (system libraries)
// by their CFI rule, cached per return address. No allocation, no locks, no symbolization.
#pragma once
#include <cstdint>

namespace leakguard::detail {

// The most frames one capture records (leakguard::kMaxTracebackLimit).
constexpr std::uint32_t kMaxCapturedFrames = 128;

// The readable part of the current thread's stack.
struct StackBounds {
  std::uintptr_t lo = 0;
  std::uintptr_t hi = 0;
};

// Walks from the frame record of an interposed entry point (`entry_fp`, the entry point's own
// __builtin_frame_address(0)); the first recorded address is the entry point's return address,
// so leakguard's frames never appear. Returns the number of frames written to out[0..max).
// *hash receives the frames' running hash, which intern_stack() finishes. `expected` (optional) is a previous stack,
// zero-filled to kMaxCapturedFrames entries; *differs is then nonzero when a frame read differs
// from it (the caller compares the lengths).
std::uint32_t capture_stack(std::uintptr_t entry_fp, const StackBounds& bounds, std::uint32_t max,
                            std::uintptr_t* out, std::uint64_t* hash,
                            const std::uintptr_t* expected = nullptr,
                            std::uintptr_t* differs = nullptr) noexcept;

// Bounds of the calling thread's stack, found without allocating (raw reads of /proc/self/maps
// for threads, __libc_stack_end for the initial thread). {0,0} when unknown.
StackBounds current_thread_stack_bounds() noexcept;

}  // namespace leakguard::detail
