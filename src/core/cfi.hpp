// Reads a function's DWARF call-frame information (.eh_frame via .eh_frame_hdr) and reduces it to
// the one rule the stack walker needs at a given return address: where the caller's frame (CFA),
// return address and frame pointer are. Used for frames built without frame pointers (libstdc++,
// libc), and only on a cache miss: the walker caches the rule per return address.
#pragma once
#include <cstdint>

#include "modules.hpp"

namespace leakguard::detail {

struct FrameRule {
  enum Kind : std::uint8_t { kNotReady = 0, kCfa = 1, kUnsupported = 2 };
  Kind kind = kNotReady;
  bool cfa_from_fp = false;   // CFA = fp + cfa_off, else sp + cfa_off
  bool fp_saved = false;      // caller's fp is at CFA + fp_off, else unchanged
  std::int32_t cfa_off = 0;
  std::int16_t ra_off = 0;    // return address is at CFA + ra_off
  std::int16_t fp_off = 0;

  std::uint64_t pack() const noexcept;
  static FrameRule unpack(std::uint64_t bits) noexcept;
};

// The rule for the frame that will return to `return_address`. kUnsupported when the module has
// no CFI for it or the CFI uses constructs the walker does not follow (DWARF expressions).
FrameRule compute_frame_rule(const Module& module, std::uintptr_t return_address) noexcept;

}  // namespace leakguard::detail
