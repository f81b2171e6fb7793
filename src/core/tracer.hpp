// The trace table's entry points: what the interposers call on every allocation and free, and
// what the public API (tracing.cpp, snapshot.cpp) calls to read and reset it.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "config.hpp"

namespace leakguard::detail {

struct TracerFlags {
  std::atomic<bool> tracing{false};
  std::atomic<std::uint32_t> nframe{1};
};
extern TracerFlags g_flags;

LG_ALWAYS_INLINE bool tracing_enabled() noexcept {
  return g_flags.tracing.load(std::memory_order_relaxed);
}

// Records a block returned by the real allocator. entry_fp is the interposer's frame address.
void record_alloc(void* ptr, std::size_t size, std::uintptr_t entry_fp) noexcept;
// Forgets a block about to be freed. Returns false when the tracer has taken over the free (the
// block is queued until matched against other threads' tables); the caller must then not free it.
bool record_free(void* ptr) noexcept;
// realloc: forgets `old` synchronously (it may be resized in place) and returns its entry so a
// failed realloc can restore it.
struct ForgottenBlock {
  bool traced = false;
  std::uint64_t size = 0;
  std::uint32_t stack_id = 0;
  std::uint64_t tag = 0;
  // The thread is inside the tracer (a signal handler interrupted it): nothing was looked up, and
  // the caller must use realloc_while_muted() instead of glibc's realloc.
  bool muted = false;
  // The block is not in the calling thread's table and other tables exist: finding it would stop
  // every thread. The caller moves it instead (malloc, copy, free), which realloc may always do,
  // and its free takes the batched cross-thread path.
  bool foreign = false;
};
ForgottenBlock forget_for_realloc(void* old) noexcept;
void restore_after_failed_realloc(void* old, const ForgottenBlock& block) noexcept;
// realloc for a thread inside the tracer: the old block may be traced and the tables cannot be
// touched, so a moved block's old copy is released like a free in that state (deferred to the
// next world stop) instead of by glibc's realloc. Same results as realloc otherwise.
void* realloc_while_muted(void* old, std::size_t size) noexcept;

// --- Used by the public API ------------------------------------------------------------------

void tracer_start(std::uint32_t nframe) noexcept;
void tracer_stop() noexcept;
void tracer_clear() noexcept;

struct MemoryTotals {
  std::uint64_t current = 0;
  std::uint64_t peak = 0;
  std::uint64_t blocks = 0;
};
MemoryTotals tracer_totals() noexcept;
void tracer_reset_peak() noexcept;

struct TracerCounters {
  std::uint64_t lost_blocks = 0;   // not traced: the tracer could not grow its own tables
  std::uint64_t lost_bytes = 0;
  std::uint64_t tracer_bytes = 0;  // memory held by the tracer itself
  std::uint64_t stacks = 0;
  std::uint32_t threads = 0;
};
TracerCounters tracer_counters() noexcept;

struct RawTrace {
  std::uintptr_t addr;
  std::uint64_t size;
  std::uint64_t domain;
  std::uint32_t stack_id;
  std::uint32_t tag;
};
// Copies every live trace. Done with the world stopped; the copy is made into memory reserved
// before the stop.
std::vector<RawTrace> tracer_collect() noexcept;
// The same, into memory the caller provides (the reachability scan keeps its copy out of the
// malloc heap, which it scans). Returns the number of live traces; copies them only when they
// fit in `capacity`.
std::size_t tracer_collect_into(RawTrace* out, std::size_t capacity) noexcept;
// The trace of the block containing addr (exact start first, then any block spanning it).
bool tracer_find_block(std::uintptr_t addr, RawTrace* out) noexcept;
// Removes from addrs[0..n) every address at which a block of the calling thread's own table
// starts (a live block, so in no free list), keeping the others' order; returns how many are
// left. Stops no thread: the caller's own table, read as its owner.
std::size_t tracer_drop_own_blocks(std::uintptr_t* addrs, std::size_t n) noexcept;

// Leak-check windows. Blocks carry the id of the window they were allocated in; a new window gets
// the next id (1..2^20-1, wrapping around with every older block's id cleared, counted in
// *wraps), and the tables count each window's live blocks as they go.
std::uint64_t tracer_begin_window(std::uint64_t* wraps) noexcept;
std::uint64_t tracer_window() noexcept;
std::uint64_t tracer_window_wraps() noexcept;
// Blocks of `window` still live, or -1 when `window` is no longer the current one (a later
// window began): a sum over threads, whatever the heap's size, that stops no thread when it is 0.
std::int64_t tracer_window_blocks(std::uint64_t window) noexcept;

// The departure log, for a window's net change without a copy of the whole heap (the repeated-run
// rule, test after test): from tracer_log_departures(window) on, every heap block of an earlier
// window that leaves the trace (freed, reallocated, replaced by a record of its address) is kept;
// tracer_end_departures() stops the log and returns those blocks with the window's blocks still
// live. Its cost is what the window frees and keeps, not the heap's size. One log at a time.
// `wraps` is tracer_window_wraps() when `window` began: a wrap since makes the log incomplete.
void tracer_log_departures(std::uint64_t window, std::uint64_t wraps) noexcept;
struct WindowChange {
  // False when some departure could not be kept (no memory for the log, the traces were
  // cleared, the window ids wrapped, a heap block went through the side table, a fork child):
  // then the change is unknown.
  bool complete = true;
  std::vector<RawTrace> gone;  // blocks of earlier windows that left the trace
  std::vector<RawTrace> came;  // blocks of the window (and later ones) still live
};
WindowChange tracer_end_departures() noexcept;

// getpid(), remembered: in glibc 2.25 and later it is a system call each time, and the leak
// check names its own process in every process_vm_readv. A fork child learns its own again
// (world.cpp's fork handler).
int process_id() noexcept;

// A watch on the traced total: the first allocation that takes it above `threshold` records,
// with the world stopped, every block live at that moment and its own stack. One watch at a
// time; arming again starts over. Costs nothing on the fast path: each thread's peak limit is
// capped at the threshold, so only allocations near it look.
struct Crossing {
  bool fired = false;
  std::uint64_t total = 0;     // traced bytes just after the crossing allocation
  std::uint32_t stack_id = 0;  // the crossing allocation's stack
  std::vector<RawTrace> live;  // every block live then, the crossing one included
};
void watch_total(std::uint64_t threshold) noexcept;
// Disarms the watch and hands over what it recorded.
Crossing end_watch() noexcept;
// In a fork child (world.cpp's fork handler): the watch may have been busy in a thread the child
// does not have, and a departure log running is not whole there.
void tracer_fork_child() noexcept;

int tracer_track(std::uint64_t domain, std::uintptr_t addr, std::size_t size,
                 std::uintptr_t entry_fp) noexcept;
int tracer_untrack(std::uint64_t domain, std::uintptr_t addr) noexcept;

// The calling thread's return addresses from the frame record at `entry_fp` outward, each with the
// stack slot it was read from (walk_return_slots(), within the stack bounds the tracer keeps for
// the thread). For the leak checks, which compare the frames of two moments. Returns how many.
std::uint32_t tracer_walk_return_slots(std::uintptr_t entry_fp, std::uint32_t max, std::uintptr_t* ra,
                                       std::uintptr_t* slot) noexcept;

// While alive, blocks the calling thread allocates are not traced (its frees are still seen).
// Snapshots, symbolization and reports run inside one, so the tracer's readers never show up in
// the traces they read.
// leakguard's own code runs in one: its blocks are untraced and live in its own heap.
void begin_untraced() noexcept;
void end_untraced() noexcept;
void begin_own() noexcept;
void end_own() noexcept;
class UntracedScope {
 public:
  UntracedScope() noexcept { begin_own(); }
  ~UntracedScope() { end_own(); }
  UntracedScope(const UntracedScope&) = delete;
  UntracedScope& operator=(const UntracedScope&) = delete;
};

}  // namespace leakguard::detail
