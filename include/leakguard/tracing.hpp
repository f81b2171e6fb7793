// leakguard's tracing API: Python's tracemalloc, for every heap allocation of a C++ process.
//
// Linking leakguard::leakguard replaces malloc, calloc, realloc, free, posix_memalign,
// aligned_alloc, memalign, valloc, pvalloc, reallocarray and every global operator new/delete.
// Each forwards to glibc; while tracing is on, every block allocated through them (by your code,
// libstdc++, libc internals or any library) is recorded with its requested size and the call
// stack that allocated it, until it is freed.
//
//   leakguard::start();                       // record 16 frames per allocation
//   ... work ...
//   auto [current, peak] = leakguard::get_traced_memory();
//   leakguard::Snapshot snap = leakguard::take_snapshot();
//   for (const auto& stat : snap.statistics(leakguard::KeyType::kLineno)) ...
//
// The environment can start tracing before main(): LEAKGUARD_START=<nframe> (1..128), and choose
// how stacks are walked: LEAKGUARD_UNWIND=fp (default) or cfi (see README, "Stacks").
//
// All functions are thread-safe. Functions that read or reset the traces briefly pause every
// thread's tracing bookkeeping (not the threads themselves) to see one consistent state.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>

#include "leakguard/export.hpp"
#include "leakguard/traceback.hpp"

namespace leakguard {

// Frames recorded per allocation when start() is called without an argument. tracemalloc's
// default is 1; a test needs enough frames to get past the standard library (allocator, vector,
// map internals are 5-8 frames in a Debug build) to the line that caused the allocation.
inline constexpr int kDefaultTracebackLimit = 16;
inline constexpr int kMaxTracebackLimit = 128;

// Starts tracing with nframe frames per allocation (1..kMaxTracebackLimit; throws
// std::invalid_argument otherwise). If tracing is already on, only changes the frame limit.
LEAKGUARD_API void start(int nframe = kDefaultTracebackLimit);
// Stops tracing and clears every trace (blocks allocated so far are forgotten).
LEAKGUARD_API void stop();
LEAKGUARD_API bool is_tracing() noexcept;
// Forgets every trace and resets current and peak to zero; tracing stays on.
LEAKGUARD_API void clear_traces();
// The frame limit of new traces (the nframe given to start(), or 1 before any start()).
LEAKGUARD_API int get_traceback_limit() noexcept;

struct TracedMemory {
  std::size_t current;  // bytes in traced blocks now
  std::size_t peak;     // highest `current` since start(), clear_traces() or reset_peak()
};
// Usable as `auto [current, peak] = leakguard::get_traced_memory();`.
//
// `current` is exact. `peak` is exact for allocations made by one thread at a time; when several
// threads reach a new peak at the same instant, the combined high point of those last few
// nanoseconds can be missed (never overstated).
LEAKGUARD_API TracedMemory get_traced_memory();
// Sets peak to the current traced size.
LEAKGUARD_API void reset_peak();

// Bytes the tracer itself uses for its tables and interned stacks (tracemalloc's
// get_tracemalloc_memory()). Taken from the tracer's own mmap'ed memory; it is never traced.
LEAKGUARD_API std::size_t get_tracer_memory() noexcept;

struct TracerStats {
  std::size_t tracer_bytes;  // same as get_tracer_memory()
  // Blocks that were allocated while tracing but not recorded because the tracer could not grow
  // its own tables (the allocation itself succeeded). Nonzero means traces are incomplete.
  std::size_t untraced_blocks;
  std::size_t untraced_bytes;
  std::size_t interned_stacks;  // distinct call stacks seen
  std::size_t threads;          // threads currently owning a trace table
};
LEAKGUARD_API TracerStats get_tracer_stats() noexcept;

// The traceback of the traced block that contains ptr (its start or any byte inside it), or
// nullopt if no traced block does.
LEAKGUARD_API std::optional<Traceback> get_object_traceback(const void* ptr);

// Blocks carry a domain: 0 is the heap, traced automatically. A custom allocator (pool, arena,
// GPU memory, mmap) reports its own blocks in another domain, as PyTraceMalloc_Track does; they
// count towards get_traced_memory() and appear in snapshots with their domain.
using Domain = std::uint32_t;
inline constexpr Domain kHeapDomain = 0;
// Returns 0 on success, -2 when tracing is off, -1 when the tracer is out of memory; tracking an
// address already tracked in the domain replaces its size and traceback. Domain 0 is refused
// (std::invalid_argument): heap blocks are traced by the interposed allocator.
LEAKGUARD_API int track(Domain domain, std::uintptr_t ptr, std::size_t size);
// Returns 0 (also when ptr was not tracked) or -2 when tracing is off.
LEAKGUARD_API int untrack(Domain domain, std::uintptr_t ptr);

// While alive, blocks allocated by the calling thread are not traced, as the tracer's own are not.
// Frees are still seen: a traced block freed inside the scope is forgotten as usual. Nests.
class LEAKGUARD_API ScopedUntraced {
 public:
  ScopedUntraced() noexcept;
  ~ScopedUntraced();
  ScopedUntraced(const ScopedUntraced&) = delete;
  ScopedUntraced& operator=(const ScopedUntraced&) = delete;
};

namespace detail {
// For leakguard's own code outside the core (the test framework plugins), not for tests: as
// ScopedUntraced, and the blocks also live in leakguard's own heap, apart from the program's. The
// leak check never reads that heap, so leakguard's bookkeeping can neither hold a lost block nor
// be taken for the program's.
class LEAKGUARD_API OwnMemoryScope {
 public:
  OwnMemoryScope() noexcept;
  ~OwnMemoryScope();
  OwnMemoryScope(const OwnMemoryScope&) = delete;
  OwnMemoryScope& operator=(const OwnMemoryScope&) = delete;
};
}  // namespace detail

}  // namespace leakguard
