// Captures the return addresses of the current call stack on the allocation hot path: a
// frame-pointer walk that steps frames of code built without frame pointers (system libraries)
// by their CFI rule, cached per return address. No allocation, no locks, no symbolization.
#pragma once
#include <atomic>
#include <cstdint>
#include <cstring>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

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

// What the thread's previous walks found (issue 7). A program allocates from the same few call
// paths over and over, and a walk from a place it walked from before meets, frame after frame,
// the same state (return address, stack pointer, frame pointer) and reads the next frame from the
// same stack slots. Each path memo keeps one earlier walk position by position: the state on
// reaching frame k and where the step to frame k+1 read its return address and frame pointer.
// A walk that starts in the memo's first state *replays* it: it loads the next frame from the
// memo's slots and compares what it loaded with the memo's next state, with no rule to look up,
// no bounds to check (the same state made the same checks pass), and loads whose addresses do not
// wait for the previous load. The first difference ends the replay and the walk goes on by the
// rules, rewriting the memo from there. Exact: every frame is read from the stack as it is now,
// and a replayed step is the step the rules give for that state (a frame pointer that differs is
// a difference: the record it points at moved). A walk that replayed to the memo's end and
// stopped where it stopped is the memo's stack, whose id the memo keeps, so neither the hash nor
// a compare of the frames is needed (issue 7: at depth 25 the walk and that compare were most of
// a traced allocation; frames above a benchmark loop or a test body, stepped by CFI, were 1.6 ns
// each).
//
// The path is chosen by the first return address (the allocation's call site) and the entry
// record (its depth), so a loop that allocates from a few sites in turn (a map node, its key, its
// vector) keeps each one's walk.
// The rule memo (rule_pc[k] / rule[k]: the CFI rule of the frame stepped at position k, for
// system libraries and framework code without frame pointers) spares a hash-table lookup keyed
// by the return address on the walks that do not replay.
//
// Written only by the owning thread, in record_alloc() and in a track() that did not interrupt
// the tracer (a handler's track() walks without memo: it could otherwise see an entry
// half-written by the walk it interrupted).
constexpr std::uint32_t kMemoSteps = 32;  // positions a path memo keeps; deeper frames are walked
constexpr std::uint32_t kMemoPaths = 8;

struct PathMemo {
  struct Step {
    // The state on reaching frame k (pc is frame k). fp then pc, the order of a frame record's
    // words: a replay compares a record with them in one 16-byte load each.
    std::uintptr_t fp, pc, sp;
    std::uintptr_t ra_at;  // the slot frame k+1 was read from
    // The slot frame k+1's frame pointer was read from, or, for a frame that keeps it, the
    // memo's own copy of it (this step's fp): a replay loads it either way. Bit 0 set: a frame
    // record, ra_at = fp_at + 8 (every frame of code with frame pointers, and most of the CFI
    // frames that save the frame pointer), which a replay reads as one 16-byte word.
    std::uintptr_t fp_at;
  };
  static constexpr std::uintptr_t kRecord = 1;
  std::uintptr_t entry = 0;   // the walk's entry record; 0: empty
  std::uintptr_t exe_lo = 0;  // trusted_executable() then: its steps followed that
  std::uint32_t frames = 0;   // the walk's frames; the memo holds min(frames, kMemoSteps) of them
  std::uint32_t id = 0;       // the stack id of its frames, once the caller found it; else 0
  Step steps[kMemoSteps] = {};
};

struct WalkMemo {
  std::uintptr_t rule_pc[kMaxCapturedFrames + 1] = {};
  std::uint64_t rule[kMaxCapturedFrames + 1] = {};
  PathMemo paths[kMemoPaths];
};
extern __thread WalkMemo t_walk_memo __attribute__((tls_model("initial-exec")));

LG_ALWAYS_INLINE std::uint64_t memo_rule_bits(WalkMemo* memo, std::uint32_t k, std::uintptr_t pc) noexcept {
  if (memo == nullptr) return frame_rule_bits(pc);
  if (LG_LIKELY(memo->rule_pc[k] == pc)) return memo->rule[k];
  const std::uint64_t bits = frame_rule_bits(pc);
  memo->rule_pc[k] = pc;
  memo->rule[k] = bits;
  return bits;
}

// A path is its call site and its depth: the first return address and the entry record. Two
// sites in one library function (a string's allocation reached from its constructor and from an
// append) differ by the second.
LG_ALWAYS_INLINE std::uint32_t memo_path_of(std::uintptr_t pc, std::uintptr_t entry_fp) noexcept {
  return static_cast<std::uint32_t>(((pc ^ (entry_fp >> 4)) * 0x9E3779B97F4A7C15ull) >> 61);
}
static_assert(kMemoPaths == 8, "memo_path_of() picks 3 bits");

// What capture_stack() tells its caller besides the frames.
struct CaptureResult {
  std::uint32_t n = 0;               // frames written
  std::uint64_t hash = 0;            // their running hash; not computed when known_id != 0
  std::uint32_t known_id = 0;        // the stack id, when the walk was its path memo's stack
  std::uint32_t* id_slot = nullptr;  // where the caller stores the id it finds (the path memo's)
};

LG_ALWAYS_INLINE std::uint64_t hash_step(std::uint64_t h, std::uintptr_t pc) noexcept {
  return ((h << 5) | (h >> 59)) ^ pc;
}

// Whether the 16 bytes at `a` and `b` are equal: two loads and a compare, where two pairs of 8-byte
// words were four loads (a replayed frame is bound by loads: issue 7).
LG_ALWAYS_INLINE bool same_16(const void* a, const void* b) noexcept {
#if defined(__x86_64__)
  const __m128i x = _mm_loadu_si128(static_cast<const __m128i*>(a));
  const __m128i y = _mm_loadu_si128(static_cast<const __m128i*>(b));
  return _mm_movemask_epi8(_mm_cmpeq_epi8(x, y)) == 0xffff;
#else
  std::uint64_t x[2], y[2];
  std::memcpy(x, a, sizeof x);
  std::memcpy(y, b, sizeof y);
  return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
#endif
}

// Walks from the frame record of an interposed entry point (`entry_fp`, the entry point's own
// __builtin_frame_address(0)); the first recorded address is the entry point's return address,
// so leakguard's frames never appear. Writes out[0..max) and returns how many, with their running
// hash (RecentStacks finds a stack by it, and intern_stack() finishes it) unless the walk was its
// path memo's stack, whose id it then returns instead (and then out[1..] is not written: the
// frames are the memo's stack's). `memo` is the calling thread's, or null
// for a walk that must not touch it.
//
// Inline: it is most of the cost of a traced allocation, and the interposer's call into it cost
// more than its own loop at small depths.
LG_ALWAYS_INLINE CaptureResult capture_stack(std::uintptr_t entry_fp, const StackBounds& bounds,
                                             std::uint32_t max, std::uintptr_t* out,
                                             WalkMemo* memo) noexcept {
  CaptureResult result;
  if (max == 0) return result;
  // State of the frame being unwound: the return address into it, its stack pointer right after
  // that return, and its frame-pointer register. Every address read lies in [sp, hi): sp only
  // grows, from just above the entry point's own frame record.
  std::uintptr_t pc = stack_word(entry_fp + sizeof(void*));
  std::uintptr_t sp = entry_fp + 2 * sizeof(void*);
  std::uintptr_t fp = stack_word(entry_fp);
  const std::uintptr_t hi = bounds.hi;
  out[0] = pc;
  // Off the known stack (sigaltstack, fibers) only the entry point's own record is safe to read.
  if (bounds.lo > entry_fp || entry_fp >= hi || max == 1) {
    result.n = 1;
    result.hash = pc;
    return result;
  }
  const CodeRange executable = trusted_executable();
  std::uint32_t k = 0;  // the position of the state (pc, sp, fp): out[0..k] hold its frames
  PathMemo* path = memo != nullptr ? &memo->paths[memo_path_of(pc, entry_fp)] : nullptr;
  PathMemo::Step* ms = nullptr;  // path->steps, when there is a memo to keep
  bool same = false;             // every state so far was the memo's
  std::uint32_t replayed = 0;    // frames 1..replayed are the memo's, not yet in out[]
  if (path != nullptr) {
    ms = path->steps;
    if (path->entry == entry_fp && path->exe_lo == executable.lo && path->frames != 0 && ms[0].pc == pc &&
        ms[0].fp == fp) {  // ms[0].sp follows from entry_fp
      // Replay: state k+1 by the memo's step from state k, while what is read is what it found.
      const std::uint32_t held = path->frames < kMemoSteps ? path->frames : kMemoSteps;
      const std::uint32_t end = held < max ? held : max;
      // The last frame's frame pointer leads nowhere when no step is taken from it (above a test
      // body it is whatever the framework's code, built without frame pointers, left there): at
      // the frame limit the last state is compared by its return address only.
      const std::uint32_t whole = end < max ? end : end - 1;
      // Frames 1..k equal to the memo's are copied into out[] only if the walk needs them (it was
      // not the memo's stack).
      std::uintptr_t next_pc = 0, next_fp = 0;
      bool diverged = false;
      while (k + 1 < whole) {
        const PathMemo::Step& step = ms[k];
        const std::uintptr_t at = step.fp_at;
        if (LG_LIKELY((at & PathMemo::kRecord) != 0)) {
          const std::uintptr_t record = at - PathMemo::kRecord;
          if (!same_16(reinterpret_cast<const void*>(record), &ms[k + 1].fp)) {
            next_fp = stack_word(record);
            next_pc = stack_word(record + sizeof(void*));
            diverged = true;
            break;
          }
        } else {
          next_pc = stack_word(step.ra_at);
          next_fp = stack_word(at);
          if (((next_pc ^ ms[k + 1].pc) | (next_fp ^ ms[k + 1].fp)) != 0) {
            diverged = true;
            break;
          }
        }
        ++k;
      }
      if (!diverged && k + 1 < end) {
        next_pc = stack_word(ms[k].ra_at);
        if (next_pc != ms[k + 1].pc) {
          next_fp = stack_word(ms[k].fp_at & ~PathMemo::kRecord);
          diverged = true;
        } else {
          ++k;
        }
      }
      replayed = k;
      if (diverged) {
        sp = ms[k + 1].sp;  // the memo's step led here, so the stack pointer is the memo's
        pc = next_pc;
        fp = next_fp;
        ++k;
        out[k] = pc;
        ms[k].pc = pc;
        ms[k].sp = sp;
        ms[k].fp = fp;
      } else {
        pc = ms[k].pc;
        sp = ms[k].sp;
        fp = ms[k].fp;  // compared, unless k is the last frame, from which no step is taken
        same = true;
      }
    } else {
      ms[0].pc = pc;
      ms[0].sp = sp;
      ms[0].fp = fp;
    }
  }
  // The walk by the rules, from state k. Frames of the executable, which keeps frame pointers:
  // fp points at {caller's fp, return address}, 16-byte aligned, above sp and below the top. Any
  // other frame: by its rule (FrameRule::pack's layout, read in place: unpacked into a struct it
  // was spilled to the stack and reloaded, stalling store forwarding).
  while (k + 1 < max) {
    std::uintptr_t ra_at, fp_at, next_sp;
    std::uintptr_t memo_fp_at;  // what the memo keeps as fp_at (PathMemo::Step); 0: the memo's copy
    const std::uint64_t rule =
        executable.contains(pc) ? std::uint64_t{FrameRule::kFramePointer} : memo_rule_bits(memo, k, pc);
    if ((rule & 3) != FrameRule::kCfa) {
      if (fp < sp || fp > hi - 2 * sizeof(void*) || (fp & 15) != 0) break;
      ra_at = fp + sizeof(void*);
      fp_at = fp;
      memo_fp_at = fp | PathMemo::kRecord;
      next_sp = fp + 2 * sizeof(void*);
    } else {
      const auto cfa_off = static_cast<std::intptr_t>(static_cast<std::int64_t>(rule << 32) >> 36);
      const auto ra_off = static_cast<std::intptr_t>(static_cast<std::int16_t>(rule >> 32));
      const std::uintptr_t cfa = ((rule & 4) != 0 ? fp : sp) + cfa_off;
      ra_at = cfa + ra_off;
      if (cfa <= sp || ra_at < sp || ra_at > hi - sizeof(void*)) break;
      next_sp = cfa;
      fp_at = 0;
      memo_fp_at = 0;
      if ((rule & 8) != 0) {
        fp_at = cfa + static_cast<std::intptr_t>(static_cast<std::int16_t>(rule >> 48));
        if (fp_at < sp || fp_at > hi - sizeof(void*)) break;
        memo_fp_at = ra_at == fp_at + sizeof(void*) ? fp_at | PathMemo::kRecord : fp_at;
      }
    }
    const bool memo_k = ms != nullptr && k < kMemoSteps;
    if (memo_k) {
      ms[k].ra_at = ra_at;
      ms[k].fp_at = memo_fp_at != 0 ? memo_fp_at : reinterpret_cast<std::uintptr_t>(&ms[k].fp);
    }
    const std::uintptr_t next_pc = stack_word(ra_at);
    if (next_pc < 4096) break;
    same = false;  // a frame past the memo's end, or a walk that already differed
    if (fp_at != 0) fp = stack_word(fp_at);
    sp = next_sp;
    pc = next_pc;
    ++k;
    out[k] = pc;
    if (memo_k && k < kMemoSteps) {
      ms[k].pc = pc;
      ms[k].sp = sp;
      ms[k].fp = fp;
    }
  }
  result.n = k + 1;
  if (path != nullptr) {
    // Replayed to the end of what the memo holds and stopped there: its stack if it held it all.
    if (same && result.n == path->frames && path->id != 0) {
      result.known_id = path->id;
      return result;
    }
    // The memo now holds this walk: its positions 0..min(n, kMemoSteps)-1 are this walk's states
    // (the replayed ones were equal, the others were written above).
    path->entry = entry_fp;
    path->exe_lo = executable.lo;
    path->frames = result.n;
    path->id = 0;
    result.id_slot = &path->id;
  }
  for (std::uint32_t i = 1; i <= replayed; ++i) out[i] = ms[i].pc;
  std::uint64_t h = out[0];
  for (std::uint32_t i = 1; i < result.n; ++i) h = hash_step(h, out[i]);
  result.hash = h;
  return result;
}

}  // namespace leakguard::detail
