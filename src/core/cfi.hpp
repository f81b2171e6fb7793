// Reads a function's DWARF call-frame information (.eh_frame via .eh_frame_hdr) and reduces it to
// the one rule the stack walker needs at a given return address: where the caller's frame (CFA),
// return address and frame pointer are. Used for frames built without frame pointers (libstdc++,
// libc), and only on a cache miss: the walker caches the rule per return address.
#pragma once
#include <cstdint>

#include "modules.hpp"

namespace leakguard::detail {

// How the walker steps one frame: by its CFA rule, by the frame-pointer chain (code the walker
// trusts to keep frame pointers), or not at all (no usable CFI: the walker then tries the
// frame-pointer chain, whose reads are bounds-checked). Packed into one word for the caches;
// 0 is never a valid packed rule.
struct FrameRule {
  enum Kind : std::uint8_t { kNotReady = 0, kCfa = 1, kUnsupported = 2, kFramePointer = 3 };
  Kind kind = kNotReady;
  bool cfa_from_fp = false;   // CFA = fp + cfa_off, else sp + cfa_off
  bool fp_saved = false;      // caller's fp is at CFA + fp_off, else unchanged
  std::int32_t cfa_off = 0;
  std::int16_t ra_off = 0;    // return address is at CFA + ra_off
  std::int16_t fp_off = 0;

  std::uint64_t pack() const noexcept {
    return std::uint64_t{kind} | (std::uint64_t{cfa_from_fp} << 2) | (std::uint64_t{fp_saved} << 3) |
           ((static_cast<std::uint64_t>(cfa_off) & 0xfffffff) << 4) |
           (std::uint64_t{static_cast<std::uint16_t>(ra_off)} << 32) |
           (std::uint64_t{static_cast<std::uint16_t>(fp_off)} << 48);
  }
  static FrameRule unpack(std::uint64_t bits) noexcept {
    FrameRule r;
    r.kind = static_cast<Kind>(bits & 3);
    r.cfa_from_fp = (bits >> 2) & 1;
    r.fp_saved = (bits >> 3) & 1;
    std::int32_t off = static_cast<std::int32_t>((bits >> 4) & 0xfffffff);
    if (off & 0x8000000) off -= 0x10000000;  // sign-extend 28 bits
    r.cfa_off = off;
    r.ra_off = static_cast<std::int16_t>(bits >> 32);
    r.fp_off = static_cast<std::int16_t>(bits >> 48);
    return r;
  }
};

// The rule for the frame that will return to `return_address`. kUnsupported when the module has
// no CFI for it or the CFI uses constructs the walker does not follow (DWARF expressions).
FrameRule compute_frame_rule(const Module& module, std::uintptr_t return_address) noexcept;

}  // namespace leakguard::detail
