// Captures the return addresses of the current call stack on the allocation hot path: a
// frame-pointer walk that steps frames of code built without frame pointers (system libraries)
// by their CFI rule, cached per return address. No allocation, no locks, no symbolization.
#pragma once
#include <atomic>
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
// *hash receives the frames' running hash: RecentStacks finds a stack by it, and intern_stack()
// finishes it.
//
// Inline: it is most of the cost of a traced allocation, and the interposer's call into it cost
// more than its own loop at small depths.
std::uint32_t capture_stack(std::uintptr_t entry_fp, const StackBounds& bounds, std::uint32_t max,
                            std::uintptr_t* out, std::uint64_t* hash) noexcept;

// Bounds of the calling thread's stack, found without allocating (raw reads of /proc/self/maps
// for threads, __libc_stack_end for the initial thread). {0,0} when unknown.
StackBounds current_thread_stack_bounds() noexcept;

// How to step the frame that returns to pc, packed (FrameRule::pack): cached per thread and
// process-wide, computed from the module's CFI on first sight. Out of line, as only frames outside
// the executable need it; it returns the packed word because a struct handed back through memory
// was reloaded in halves and stalled store forwarding (80% of the time of a CFI step).
std::uint64_t frame_rule_bits(std::uintptr_t pc) noexcept;

// The calling thread's return addresses from the frame record at `entry_fp` outward, each with the
// stack slot it was read from (slot[i] holds ra[i]), by every frame's CFI: slower than
// capture_stack, and for the leak checks only, which compare two walks' frames. Returns how many.
std::uint32_t walk_return_slots(std::uintptr_t entry_fp, const StackBounds& bounds, std::uint32_t max,
                                std::uintptr_t* ra, std::uintptr_t* slot) noexcept;

LG_ALWAYS_INLINE std::uintptr_t stack_word(std::uintptr_t addr) noexcept {
  return *reinterpret_cast<const std::uintptr_t*>(addr);
}

// What the thread's previous walks found at each position of the stack (issue 7). A program
// allocates from the same few call paths over and over, so the walk at position k meets the same
// frame record and the same return address as last time. Both memos are only hints, checked
// against the value they stand for before use, so a wrong one costs time, never a frame:
// - fp[k] is the frame record that produced frame k. When the walk's frame pointer equals it, the
//   next record is loaded from the memo's copy of the address, which is known before the previous
//   load completes: the loads of a frame-pointer walk no longer wait for each other (they were a
//   chain of dependent L1 loads, ~4 cycles a frame).
// - rule_pc[k] / rule[k] is the CFI rule of the frame stepped at position k (system libraries and
//   the frames above main: libc's, or a test framework's built without frame pointers). A hit
//   costs one compare instead of a hash-table lookup keyed by the frame's return address.
// Written only by the owning thread. A signal handler's walk (track() from a handler) may
// overwrite an entry mid-walk; the rule memo is written so that a reader sees the old pair or a
// miss, as the per-thread rule cache is.
struct WalkMemo {
  std::uintptr_t fp[kMaxCapturedFrames + 1];
  std::uintptr_t rule_pc[kMaxCapturedFrames + 1];
  std::uint64_t rule[kMaxCapturedFrames + 1];
};
extern __thread WalkMemo t_walk_memo __attribute__((tls_model("initial-exec")));

LG_ALWAYS_INLINE std::uint64_t memo_rule_bits(WalkMemo& memo, std::uint32_t k, std::uintptr_t pc) noexcept {
  if (LG_LIKELY(memo.rule_pc[k] == pc)) return memo.rule[k];
  const std::uint64_t bits = frame_rule_bits(pc);
  memo.rule_pc[k] = 0;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  memo.rule[k] = bits;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  memo.rule_pc[k] = pc;
  return bits;
}

LG_ALWAYS_INLINE std::uint32_t capture_stack(std::uintptr_t entry_fp, const StackBounds& bounds,
                                             std::uint32_t max, std::uintptr_t* out,
                                             std::uint64_t* hash) noexcept {
  // State of the frame being unwound: the return address into it, its stack pointer right after
  // that return, and its frame-pointer register. Every address read lies in [sp, hi): sp only
  // grows, from just above the entry point's own frame record.
  std::uintptr_t pc = stack_word(entry_fp + sizeof(void*));
  std::uintptr_t sp = entry_fp + 2 * sizeof(void*);
  std::uintptr_t fp = stack_word(entry_fp);
  const std::uintptr_t hi = bounds.hi;
  std::uint64_t h = pc;
  std::uint32_t n = 0;
  if (max == 0) {
    *hash = 0;
    return 0;
  }
  out[n++] = pc;
  // Off the known stack (sigaltstack, fibers) only the entry point's own record is safe to read.
  const bool walkable = bounds.lo <= entry_fp && entry_fp < hi;
  const CodeRange executable = trusted_executable();
  WalkMemo& memo = t_walk_memo;
  while (walkable && n < max) {
    // Frames of the executable, which keeps frame pointers: the tight loop of the common case.
    // fp points at {caller's fp, return address}, 16-byte aligned, above sp and below the top.
    while (executable.contains(pc)) {
      if (fp < sp || fp > hi - 2 * sizeof(void*) || (fp & 15) != 0) goto done;
      std::uintptr_t record = memo.fp[n];
      std::uintptr_t next_pc, next_fp;
      if (LG_LIKELY(record == fp)) {
        // The same record as last time: load through the memo's copy, whose value the compiler
        // must not replace by fp (that would bring the dependency back).
        asm("" : "+r"(record));
        next_pc = stack_word(record + sizeof(void*));
        next_fp = stack_word(record);
      } else {
        memo.fp[n] = fp;
        next_pc = stack_word(fp + sizeof(void*));
        next_fp = stack_word(fp);
      }
      sp = fp + 2 * sizeof(void*);
      fp = next_fp;
      if (next_pc < 4096) goto done;
      pc = next_pc;
      out[n++] = pc;
      h = ((h << 5) | (h >> 59)) ^ pc;
      if (n == max) goto done;
    }
    // Any other frame: by its rule (FrameRule::pack's layout, read in place: unpacked into a
    // struct it was spilled to the stack and reloaded, stalling store forwarding).
    std::uintptr_t next_pc, next_sp, next_fp;
    const std::uint64_t rule = memo_rule_bits(memo, n, pc);
    if ((rule & 3) != FrameRule::kCfa) {
      if (fp < sp || fp > hi - 2 * sizeof(void*) || (fp & 15) != 0) break;
      next_pc = stack_word(fp + sizeof(void*));
      next_sp = fp + 2 * sizeof(void*);
      next_fp = stack_word(fp);
    } else {
      const auto cfa_off = static_cast<std::intptr_t>(static_cast<std::int64_t>(rule << 32) >> 36);
      const auto ra_off = static_cast<std::intptr_t>(static_cast<std::int16_t>(rule >> 32));
      const std::uintptr_t cfa = ((rule & 4) != 0 ? fp : sp) + cfa_off;
      const std::uintptr_t ra_at = cfa + ra_off;
      if (cfa <= sp || ra_at < sp || ra_at > hi - sizeof(void*)) break;
      next_pc = stack_word(ra_at);
      next_sp = cfa;
      next_fp = fp;
      if ((rule & 8) != 0) {
        const std::uintptr_t fp_at = cfa + static_cast<std::intptr_t>(static_cast<std::int16_t>(rule >> 48));
        if (fp_at < sp || fp_at > hi - sizeof(void*)) break;
        next_fp = stack_word(fp_at);
      }
    }
    if (next_pc < 4096) break;
    pc = next_pc;
    sp = next_sp;
    fp = next_fp;
    out[n++] = pc;
    h = ((h << 5) | (h >> 59)) ^ pc;
  }
done:
  *hash = h;
  return n;
}

}  // namespace leakguard::detail
