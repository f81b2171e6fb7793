#include "stack_capture.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "cfi.hpp"
#include "config.hpp"
#include "modules.hpp"

extern "C" void* __libc_stack_end;

namespace leakguard::detail {
namespace {

// Per-return-address rule cache. Slots are claimed with a CAS on the pc and filled afterwards; a
// reader that finds a claimed but unfilled slot computes the rule itself. Never cleared: code
// addresses of a module stay valid for as long as it is loaded, and after a dlclose a stale rule
// can only make a walk stop early, never read outside the stack (every read is bounds-checked).
template <std::uint64_t (*Compute)(std::uintptr_t), int kSlotBits>
class RuleCache {
 public:
  std::uint64_t get(std::uintptr_t pc) {
    constexpr std::size_t kSlots = std::size_t{1} << kSlotBits;
    constexpr int kMaxProbe = 16;
    std::size_t i = static_cast<std::size_t>((pc * 0x9E3779B97F4A7C15ull) >> (64 - kSlotBits));
    for (int probe = 0; probe < kMaxProbe; ++probe, i = (i + 1) & (kSlots - 1)) {
      const std::uintptr_t slot_pc = slots_[i].pc.load(std::memory_order_acquire);
      if (slot_pc == pc) {
        const std::uint64_t bits = slots_[i].rule.load(std::memory_order_acquire);
        if (bits != 0) return bits;
        break;
      }
      if (slot_pc != 0) continue;
      const std::uint64_t computed = Compute(pc);
      std::uintptr_t expected = 0;
      if (slots_[i].pc.compare_exchange_strong(expected, pc, std::memory_order_acq_rel)) {
        slots_[i].rule.store(computed, std::memory_order_release);
      }
      return computed;
    }
    // Cache full around this slot or being filled: compute without caching.
    return Compute(pc);
  }

 private:
  struct Slot {
    std::atomic<std::uintptr_t> pc;
    std::atomic<std::uint64_t> rule;
  };
  Slot slots_[std::size_t{1} << kSlotBits];
};

// The allocation walker's rule: code trusted to keep frame pointers is stepped by them.
std::uint64_t compute_rule(std::uintptr_t pc) {
  FrameRule rule;
  rule.kind = FrameRule::kUnsupported;
  if (Module m{}; find_module(pc, &m)) {
    if (m.fp_trusted) {
      rule.kind = FrameRule::kFramePointer;
    } else {
      rule = compute_frame_rule(m, pc);
    }
  }
  return rule.pack();
}

// walk_return_slots()'s rule: the CFI of every module, as a test framework's code linked into the
// executable need not keep frame pointers.
std::uint64_t compute_cfi_rule(std::uintptr_t pc) {
  FrameRule rule;
  rule.kind = FrameRule::kUnsupported;
  if (Module m{}; find_module(pc, &m)) rule = compute_frame_rule(m, pc);
  return rule.pack();
}

// The process-wide caches: the allocation walker's, behind each thread's own (below), and the
// checks' walk's.
RuleCache<compute_rule, 14> g_rules;
RuleCache<compute_cfi_rule, 12> g_cfi_rules;

// Each thread keeps the rules of its recent frames in a small direct-mapped table of its own, in
// front of a process-wide cache, so a walk through frames it has seen before touches only its own
// L1-resident lines (a lookup in the process-wide cache is a cache miss a frame).
template <int kSlotBits>
struct LocalRules {
  static constexpr std::size_t kSlots = std::size_t{1} << kSlotBits;
  std::uintptr_t pc[kSlots];
  std::uint64_t bits[kSlots];

  template <class Shared>
  LG_ALWAYS_INLINE std::uint64_t get(std::uintptr_t at, Shared& shared) {
    const std::size_t i = static_cast<std::size_t>((at * 0x9E3779B97F4A7C15ull) >> (64 - kSlotBits));
    if (LG_LIKELY(pc[i] == at)) return bits[i];
    const std::uint64_t computed = shared.get(at);
    pc[i] = at;
    bits[i] = computed;
    return computed;
  }
};
// The allocation walker's, and walk_return_slots()'s: a test's two checks walk the same framework
// frames test after test (without it, about 0.3 us a test in a 1000-test suite).
__thread LocalRules<8> t_rules __attribute__((tls_model("initial-exec")));
__thread LocalRules<7> t_check_rules __attribute__((tls_model("initial-exec")));

LG_ALWAYS_INLINE std::uintptr_t load(std::uintptr_t addr) {
  return *reinterpret_cast<const std::uintptr_t*>(addr);
}

std::uintptr_t parse_hex(const char*& p) {
  std::uintptr_t v = 0;
  for (;; ++p) {
    const char c = *p;
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else return v;
    v = v * 16 + static_cast<std::uintptr_t>(d);
  }
}

// Finds the mapping containing addr in /proc/self/maps with raw syscalls (no stdio, no malloc).
StackBounds mapping_containing(std::uintptr_t addr) {
  StackBounds result;
  const int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC));
  if (fd < 0) return result;
  char buf[4096];
  std::size_t have = 0;
  bool done = false;
  while (!done) {
    const ssize_t got = syscall(SYS_read, fd, buf + have, sizeof buf - 1 - have);
    if (got <= 0) break;
    have += static_cast<std::size_t>(got);
    buf[have] = '\0';
    char* line = buf;
    for (char* nl; (nl = std::strchr(line, '\n')) != nullptr; line = nl + 1) {
      const char* p = line;
      const std::uintptr_t lo = parse_hex(p);
      if (*p++ != '-') continue;
      const std::uintptr_t hi = parse_hex(p);
      if (lo <= addr && addr < hi) {
        result = {lo, hi};
        done = true;
        break;
      }
    }
    const std::size_t rest = have - static_cast<std::size_t>(line - buf);
    std::memmove(buf, line, rest);
    have = rest;
    if (have == sizeof buf - 1) have = 0;  // an absurdly long line: drop it
  }
  syscall(SYS_close, fd);
  return result;
}

}  // namespace


StackBounds current_thread_stack_bounds() noexcept {
  const int saved_errno = errno;
  const auto here = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  StackBounds b;
  const auto top = reinterpret_cast<std::uintptr_t>(__libc_stack_end);
  if (getpid() == static_cast<pid_t>(syscall(SYS_gettid)) && here < top) {
    // The initial thread's stack grows down from __libc_stack_end, contiguously, up to its rlimit.
    rlimit rl{};
    std::uintptr_t size = std::uintptr_t{1} << 30;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < size) {
      size = rl.rlim_cur;
    }
    b = {top > size ? top - size : 0, top};
  } else {
    b = mapping_containing(here);
  }
  errno = saved_errno;
  return b;
}

std::uint64_t frame_rule_bits(std::uintptr_t pc) noexcept { return t_rules.get(pc, g_rules); }

std::uint32_t walk_return_slots(std::uintptr_t entry_fp, const StackBounds& bounds, std::uint32_t max,
                                std::uintptr_t* ra, std::uintptr_t* slot) noexcept {
  constexpr std::uintptr_t kWord = sizeof(void*);
  const std::uintptr_t hi = bounds.hi;
  if (max == 0 || entry_fp < bounds.lo || hi < 2 * kWord || entry_fp > hi - 2 * kWord || (entry_fp & 15) != 0) {
    return 0;
  }
  // As capture_stack: the frame being unwound's stack pointer right after its return, and its
  // frame-pointer register; every read lies in [sp, hi).
  std::uintptr_t sp = entry_fp + 2 * kWord;
  std::uintptr_t fp = load(entry_fp);
  std::uint32_t n = 0;
  slot[n] = entry_fp + kWord;
  ra[n++] = load(entry_fp + kWord);
  while (n < max) {
    const FrameRule rule = FrameRule::unpack(t_check_rules.get(ra[n - 1], g_cfi_rules));
    std::uintptr_t ra_at, next_sp, next_fp = fp;
    if (rule.kind == FrameRule::kCfa) {
      const std::uintptr_t cfa = (rule.cfa_from_fp ? fp : sp) + static_cast<std::intptr_t>(rule.cfa_off);
      ra_at = cfa + static_cast<std::intptr_t>(rule.ra_off);
      if (cfa <= sp || ra_at < sp || ra_at > hi - kWord) break;
      next_sp = cfa;
      if (rule.fp_saved) {
        const std::uintptr_t fp_at = cfa + static_cast<std::intptr_t>(rule.fp_off);
        if (fp_at < sp || fp_at > hi - kWord) break;
        next_fp = load(fp_at);
      }
    } else {  // no usable CFI: the frame-pointer chain, checked as the allocation walker checks it
      if (fp < sp || fp > hi - 2 * kWord || (fp & 15) != 0) break;
      ra_at = fp + kWord;
      next_sp = fp + 2 * kWord;
      next_fp = load(fp);
    }
    const std::uintptr_t next_pc = load(ra_at);
    if (next_pc < 4096) break;
    slot[n] = ra_at;
    ra[n++] = next_pc;
    sp = next_sp;
    fp = next_fp;
  }
  return n;
}

__thread WalkMemo t_walk_memo __attribute__((tls_model("initial-exec"))) = {};

}  // namespace leakguard::detail
