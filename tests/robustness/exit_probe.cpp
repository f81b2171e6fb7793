// A program whose exit allocates: static destructors and atexit handlers that malloc, free and call
// leakguard, with tracing stopped before exit or still on, and with other threads still allocating
// while the process exits. test_exit.cpp runs it and checks it prints every step and exits 0.
//   exit_probe stopped | tracing | threads
#include <leakguard/leakguard.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

void keep(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

bool g_expect_tracing = false;
void* g_survivor = nullptr;  // allocated in main, freed during static destruction

// What every exit-time hook does: allocate and free through every family, and use the API in the
// way the current tracing state allows.
void exercise(const char* where) {
  void* p = std::malloc(100);
  keep(p);
  p = std::realloc(p, 5000);
  keep(p);
  std::free(p);
  std::string s(2000, 'x');
  keep(s.data());
  auto* v = new std::vector<int>(300, 1);
  keep(v->data());
  delete v;
  const bool tracing = leakguard::is_tracing();
  if (tracing != g_expect_tracing) {
    std::printf("%s: is_tracing() is %d\n", where, tracing ? 1 : 0);
    return;
  }
  (void)leakguard::get_traced_memory();
  (void)leakguard::get_tracer_stats();
  if (tracing) {
    void* q = std::malloc(77);
    keep(q);
    const bool found = leakguard::get_object_traceback(q).has_value();
    const auto snap = leakguard::take_snapshot();
    (void)snap.statistics("lineno");
    std::free(q);
    std::printf("%s: ok traced=%d\n", where, found ? 1 : 0);
  } else {
    bool threw = false;
    try {
      (void)leakguard::take_snapshot();
    } catch (const std::logic_error&) {
      threw = true;
    }
    std::printf("%s: ok threw=%d\n", where, threw ? 1 : 0);
  }
  std::fflush(stdout);
}

struct ExitTimeAllocator {
  ~ExitTimeAllocator() {
    exercise("static destructor");
    std::free(g_survivor);  // the first one to run frees it
    g_survivor = nullptr;
  }
};
// Constructed before main, so destroyed last of all the hooks...
ExitTimeAllocator g_early;

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  // ... and this one, constructed in main before the atexit handlers are registered, after them.
  static ExitTimeAllocator late;
  g_survivor = std::malloc(4096);
  leakguard::start();
  std::atexit([] { exercise("atexit handler"); });
  if (mode == "stopped") {
    leakguard::stop();
    std::atexit([] { exercise("atexit handler registered after stop"); });
    g_expect_tracing = false;
  } else if (mode == "tracing") {
    g_expect_tracing = true;
  } else if (mode == "threads") {
    // Threads that keep allocating, freeing each other's blocks and reading the traces while the
    // main thread runs the exit sequence. (They never see is_tracing() change.)
    g_expect_tracing = true;
    static std::atomic<void*> box{nullptr};
    for (int t = 0; t < 3; ++t) {
      std::thread([t] {
        for (unsigned i = 0;; ++i) {
          void* p = std::malloc(16 + (i + t) % 200);
          if (void* old = box.exchange(p)) std::free(old);
          if (i % 1024 == 0 && t == 0) (void)leakguard::get_traced_memory();
        }
      }).detach();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } else {
    std::fprintf(stderr, "usage: exit_probe stopped|tracing|threads\n");
    return 2;
  }
  std::printf("main: returning\n");
  std::fflush(stdout);
  return 0;
}
