// The public tracing API (tracing.hpp) over the trace table, and the environment switches read
// when the library loads.
#include "leakguard/tracing.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "core/config.hpp"
#include "core/modules.hpp"
#include "core/tracer.hpp"
#include "snapshot/raw_snapshot.hpp"

namespace leakguard {

void start(int nframe) {
  if (nframe < 1 || nframe > kMaxTracebackLimit) {
    throw std::invalid_argument("leakguard::start(): nframe must be 1.." +
                                std::to_string(kMaxTracebackLimit) + ", got " +
                                std::to_string(nframe));
  }
  detail::tracer_start(static_cast<std::uint32_t>(nframe));
}

void stop() { detail::tracer_stop(); }

bool is_tracing() noexcept { return detail::tracing_enabled(); }

void clear_traces() {
  if (is_tracing()) detail::tracer_clear();
}

int get_traceback_limit() noexcept {
  return static_cast<int>(detail::g_flags.nframe.load(std::memory_order_relaxed));
}

TracedMemory get_traced_memory() {
  if (!is_tracing()) return TracedMemory{0, 0};
  const detail::MemoryTotals t = detail::tracer_totals();
  return TracedMemory{static_cast<std::size_t>(t.current), static_cast<std::size_t>(t.peak)};
}

void reset_peak() {
  if (is_tracing()) detail::tracer_reset_peak();
}

std::size_t get_tracer_memory() noexcept {
  return static_cast<std::size_t>(detail::tracer_counters().tracer_bytes);
}

TracerStats get_tracer_stats() noexcept {
  const detail::TracerCounters c = detail::tracer_counters();
  return TracerStats{static_cast<std::size_t>(c.tracer_bytes),
                     static_cast<std::size_t>(c.lost_blocks),
                     static_cast<std::size_t>(c.lost_bytes), static_cast<std::size_t>(c.stacks),
                     static_cast<std::size_t>(c.threads)};
}

std::optional<Traceback> get_object_traceback(const void* ptr) {
  if (!is_tracing() || ptr == nullptr) return std::nullopt;
  detail::RawTrace raw{};
  if (!detail::tracer_find_block(reinterpret_cast<std::uintptr_t>(ptr), &raw)) return std::nullopt;
  return detail::traceback_of(raw.stack_id);
}

LG_NOINLINE int track(Domain domain, std::uintptr_t ptr, std::size_t size) {
  if (domain == kHeapDomain) {
    throw std::invalid_argument(
        "leakguard::track(): domain 0 is the heap, traced by the allocator itself; use another "
        "domain for custom allocators");
  }
  return detail::tracer_track(domain, ptr, size, LG_CURRENT_FRAME());
}

int untrack(Domain domain, std::uintptr_t ptr) { return detail::tracer_untrack(domain, ptr); }

ScopedUntraced::ScopedUntraced() noexcept { detail::begin_untraced(); }
ScopedUntraced::~ScopedUntraced() { detail::end_untraced(); }
detail::OwnMemoryScope::OwnMemoryScope() noexcept { detail::begin_own(); }
detail::OwnMemoryScope::~OwnMemoryScope() { detail::end_own(); }

namespace {

// A bad value is reported, never ignored in silence, and never stops the program: the test
// process runs as it would without leakguard's switch.
void read_environment() {
  if (const char* unwind = std::getenv("LEAKGUARD_UNWIND"); unwind != nullptr && *unwind != '\0') {
    if (std::strcmp(unwind, "cfi") == 0) {
      detail::set_unwind_mode(detail::UnwindMode::kCfi);
    } else if (std::strcmp(unwind, "fp") != 0) {
      std::fprintf(stderr,
                   "leakguard: LEAKGUARD_UNWIND='%s' is not a stack walker (expected 'fp' or "
                   "'cfi'); using 'fp'\n",
                   unwind);
    }
  }
  const char* value = std::getenv("LEAKGUARD_START");
  if (value == nullptr || *value == '\0') return;
  char* end = nullptr;
  errno = 0;
  const long n = std::strtol(value, &end, 10);
  if (errno != 0 || *end != '\0' || n < 1 || n > kMaxTracebackLimit) {
    std::fprintf(stderr,
                 "leakguard: LEAKGUARD_START='%s' is not a frame count (expected 1..%d); tracing "
                 "was not started\n",
                 value, kMaxTracebackLimit);
    return;
  }
  start(static_cast<int>(n));
}

// Runs before the constructors of ordinary translation units (priority 101 is the first one
// available to programs), so static initialisers that allocate are traced.
__attribute__((constructor(101))) void on_load() { read_environment(); }

}  // namespace
}  // namespace leakguard
