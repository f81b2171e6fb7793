// What a leak check costs against the size of the live heap: the check with nothing left over
// from the window (a sum over threads), and with one block left (a scan of the roots and the
// reachable heap). Prints one JSON object per heap size for bench/report.py.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <leakguard/leakguard.hpp>

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// The fastest of `reps` runs of fn, in ms.
template <class Fn>
double best_of(int reps, Fn&& fn) {
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, ms_since(t0));
  }
  return best;
}

}  // namespace

int main() {
  leakguard::TraceScope tracing(16);
  std::vector<void*> heap;
  for (const std::size_t live : {10000u, 100000u, 1000000u}) {
    while (heap.size() < live) heap.push_back(std::malloc(48));  // a linked heap: vector -> blocks
    const double empty_ms = best_of(20, [] {
      leakguard::Checkpoint start;
      void* p = std::malloc(100);
      asm volatile("" : : "r"(p) : "memory");
      std::free(p);
      if (!leakguard::classify_survivors(start).survivors.empty()) std::abort();
    });
    void* kept = nullptr;
    const double one_ms = best_of(3, [&] {
      leakguard::Checkpoint start;
      std::free(kept);
      kept = std::malloc(100);  // held by `kept`
      if (leakguard::classify_survivors(start).survivors.size() != 1) std::abort();
    });
    std::free(kept);
    std::printf("{\"live_blocks\": %zu, \"check_nothing_left_ms\": %.4f, \"check_one_survivor_ms\": %.2f}\n", live,
                empty_ms, one_ms);
  }
  for (void* p : heap) std::free(p);
  return 0;
}
