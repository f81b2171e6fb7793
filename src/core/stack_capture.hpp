// Captures the return addresses of the current call stack on the allocation hot path: a
// frame-pointer walk that steps frames of code built without frame pointers (system libraries)
// by their CFI rule, cached per return address. No allocation, no locks, no symbolization.
#pragma once
#include <cstdint>

#include "cfi.hpp"
#include "config.hpp"
#include "modules.hpp"

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
//
// Inline: it is most of the cost of a traced allocation, and the interposer's call into it cost
// more than its own loop at small depths.
std::uint32_t capture_stack(std::uintptr_t entry_fp, const StackBounds& bounds, std::uint32_t max,
                            std::uintptr_t* out, std::uint64_t* hash,
                            const std::uintptr_t* expected = nullptr,
                            std::uintptr_t* differs = nullptr) noexcept;

// Bounds of the calling thread's stack, found without allocating (raw reads of /proc/self/maps
// for threads, __libc_stack_end for the initial thread). {0,0} when unknown.
StackBounds current_thread_stack_bounds() noexcept;

// How to step the frame that returns to pc, packed (FrameRule::pack): cached per thread and
// process-wide, computed from the module's CFI on first sight. Out of line, as only frames outside
// the executable need it; it returns the packed word because a struct handed back through memory
// was reloaded in halves and stalled store forwarding (80% of the time of a CFI step).
std::uint64_t frame_rule_bits(std::uintptr_t pc) noexcept;

LG_ALWAYS_INLINE std::uintptr_t stack_word(std::uintptr_t addr) noexcept {
  return *reinterpret_cast<const std::uintptr_t*>(addr);
}

LG_ALWAYS_INLINE std::uint32_t capture_stack(std::uintptr_t entry_fp, const StackBounds& bounds,
                                             std::uint32_t max, std::uintptr_t* out,
                                             std::uint64_t* hash, const std::uintptr_t* expected,
                                             std::uintptr_t* differs) noexcept {
  static constexpr std::uintptr_t kNothing[kMaxCapturedFrames] = {};
  const std::uintptr_t* expect = expected != nullptr ? expected : kNothing;
  std::uintptr_t diff = 0;
  // State of the frame being unwound: the return address into it, its stack pointer right after
  // that return, and its frame-pointer register.
  std::uintptr_t pc = stack_word(entry_fp + sizeof(void*));
  std::uintptr_t sp = entry_fp + 2 * sizeof(void*);
  std::uintptr_t fp = stack_word(entry_fp);
  const std::uintptr_t lo = entry_fp, hi = bounds.hi;
  std::uint64_t h = pc;
  std::uint32_t n = 0;
  if (max == 0) {
    *hash = 0;
    if (differs != nullptr) *differs = 0;
    return 0;
  }
  diff |= expect[n] ^ pc;
  out[n++] = pc;
  // Off the known stack (sigaltstack, fibers) only the entry point's own record is safe to read.
  const bool walkable = bounds.lo <= entry_fp && entry_fp < hi;
  const CodeRange executable = trusted_executable();
  while (walkable && n < max) {
    // Frames of the executable, which keeps frame pointers: the tight loop of the common case.
    // fp points at {caller's fp, return address}, 16-byte aligned, above sp and below the top.
    while (executable.contains(pc)) {
      if (fp < sp || fp > hi - 2 * sizeof(void*) || (fp & 15) != 0) goto done;
      const std::uintptr_t next_pc = stack_word(fp + sizeof(void*));
      sp = fp + 2 * sizeof(void*);
      fp = stack_word(fp);
      if (next_pc < 4096) goto done;
      pc = next_pc;
      diff |= expect[n] ^ pc;
      out[n++] = pc;
      h = ((h << 5) | (h >> 59)) ^ pc;
      if (n == max) goto done;
    }
    // Any other frame: by its cached rule.
    std::uintptr_t next_pc, next_sp, next_fp;
    const FrameRule rule = FrameRule::unpack(frame_rule_bits(pc));
    if (rule.kind != FrameRule::kCfa) {
      if (fp < sp || fp > hi - 2 * sizeof(void*) || (fp & 15) != 0) break;
      next_pc = stack_word(fp + sizeof(void*));
      next_sp = fp + 2 * sizeof(void*);
      next_fp = stack_word(fp);
    } else {
      const std::uintptr_t cfa = (rule.cfa_from_fp ? fp : sp) + static_cast<std::intptr_t>(rule.cfa_off);
      const std::uintptr_t ra_at = cfa + static_cast<std::intptr_t>(rule.ra_off);
      if (cfa <= sp || ra_at < lo || ra_at + sizeof(void*) > hi) break;
      next_pc = stack_word(ra_at);
      next_sp = cfa;
      next_fp = fp;
      if (rule.fp_saved) {
        const std::uintptr_t fp_at = cfa + static_cast<std::intptr_t>(rule.fp_off);
        if (fp_at < lo || fp_at + sizeof(void*) > hi) break;
        next_fp = stack_word(fp_at);
      }
    }
    if (next_pc < 4096 || next_sp <= sp) break;
    pc = next_pc;
    sp = next_sp;
    fp = next_fp;
    diff |= expect[n] ^ pc;
    out[n++] = pc;
    h = ((h << 5) | (h >> 59)) ^ pc;
  }
done:
  *hash = h;
  if (differs != nullptr) *differs = diff;
  return n;
}

}  // namespace leakguard::detail
