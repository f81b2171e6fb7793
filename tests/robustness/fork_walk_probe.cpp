// fork() while leakguard itself walks the loader's list (dl_iterate_phdr, here the symbolizer's
// check for modules loaded since its last report): the walk holds the loader's list lock, which
// glibc does not reset in a fork child, so the fork must wait for the walk to end. This probe
// defines dl_iterate_phdr, which the statically linked tracer calls: on the reporting thread it
// signals that the walk has begun and lingers in it, and main forks then. The child then makes a
// report of its own, which walks the list again; it hung when the fork did not wait. Prints "ok"
// or what went wrong.
#include <dlfcn.h>
#include <leakguard/leakguard.hpp>
#include <link.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "child_outcome.hpp"

namespace {

using IterateFn = int (*)(int (*)(dl_phdr_info*, size_t, void*), void*);
IterateFn g_real_iterate = nullptr;
std::atomic<bool> g_inside{false};
thread_local bool t_linger = false;

struct Forward {
  int (*callback)(dl_phdr_info*, size_t, void*);
  void* data;
};

int linger_then_forward(dl_phdr_info* info, size_t size, void* data) {
  auto* f = static_cast<Forward*>(data);
  if (t_linger) {
    t_linger = false;
    g_inside.store(true);
    // Long enough for the fork to copy the process meanwhile, unless it waits for the walk.
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
    while (std::chrono::steady_clock::now() < until) {
    }
  }
  return f->callback(info, size, f->data);
}

bool traced_with_a_frame(void* p) {
  const auto tb = leakguard::get_object_traceback(p);
  return tb.has_value() && !tb->empty() && !(*tb)[0].function.empty();
}

}  // namespace

extern "C" int dl_iterate_phdr(int (*callback)(dl_phdr_info*, size_t, void*), void* data) {
  Forward f{callback, data};
  return g_real_iterate(linger_then_forward, &f);
}

int main() {
  g_real_iterate = reinterpret_cast<IterateFn>(dlsym(RTLD_NEXT, "dl_iterate_phdr"));
  if (g_real_iterate == nullptr) {
    std::printf("no dl_iterate_phdr to forward to\n");
    return 1;
  }
  leakguard::start();
  void* block = std::malloc(100);
  std::thread reporter([block] {
    t_linger = true;
    (void)traced_with_a_frame(block);
  });
  while (!g_inside.load()) {
  }
  const pid_t pid = fork();
  if (pid == 0) {
    alarm(5);  // a hang ends the child with SIGALRM
    _exit(traced_with_a_frame(block) ? 0 : 1);
  }
  reporter.join();
  std::free(block);
  robust::print_child_outcome(pid, "could not symbolize");
  return 0;
}
