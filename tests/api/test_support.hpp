// Helpers shared by the API tests: keeping the compiler from removing allocations, and measuring
// exactly what a statement allocated.
#pragma once
#include <leakguard/leakguard.hpp>

#include <cstddef>
#include <string>

namespace lgtest {

// The optimizer may delete a malloc/free or new/delete pair whose result is unused; an asm
// statement that "reads" the pointer keeps it.
inline void keep(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

// Bytes and blocks traced now, exact: get_traced_memory() pauses the tracer's bookkeeping and
// allocates nothing.
struct Totals {
  std::size_t bytes = 0;
  std::size_t blocks = 0;
};
inline Totals totals() {
  const auto [current, peak] = leakguard::get_traced_memory();
  (void)peak;
  return Totals{current, leakguard::take_snapshot().traces().size()};
}

// The traces whose attribution frame is in this test file, as a snapshot.
inline leakguard::Snapshot snapshot_of_file(const char* file) {
  return leakguard::take_snapshot().filter_traces({leakguard::Filter(true, file)});
}

inline std::size_t total_size(const leakguard::Snapshot& s) {
  std::size_t n = 0;
  for (const auto& t : s.traces()) n += t.size;
  return n;
}

// Starts tracing for one test and stops it after, so each test sees only its own blocks.
class Tracing {
 public:
  explicit Tracing(int nframe = leakguard::kDefaultTracebackLimit) { leakguard::start(nframe); }
  ~Tracing() { leakguard::stop(); }
  Tracing(const Tracing&) = delete;
  Tracing& operator=(const Tracing&) = delete;
};

}  // namespace lgtest
