// fork() while another thread runs the very first leakguard::start(), which initialises the
// tracer: the child must be able to start tracing and allocate. Prints "ok" or what went wrong;
// test_first_start.cpp runs it many times, each run a fresh process.
//
// The start is made to land inside the fork: glibc runs prepare handlers with its handler lock
// released, so another thread may register handlers then, and those are skipped for that fork.
// This probe's prepare handler lets the starter go and then spins a varying while (the argument,
// in microseconds), so that the fork copies the process at some instant of the first start.
//
// With the argument "loader", another thread of the program is inside dl_iterate_phdr when the
// fork copies the process, so the child inherits the loader's list lock held (glibc does not
// reset it), and the child then makes the first start: neither the start nor an allocation may
// walk the loader's list. The first start used to, and the child hung.
#include <leakguard/leakguard.hpp>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "child_outcome.hpp"
#include "loader_walk.hpp"

namespace {

std::atomic<bool> g_go{false};
long g_spin_us = 0;

void prepare_and_let_the_starter_go() {
  g_go.store(true);
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(g_spin_us);
  while (std::chrono::steady_clock::now() < until) {
  }
}

// The child makes the first start and one allocation, which must be traced, exactly; it must not
// symbolize, since a report walks the loader's list, which no child of this fork can do.
int fork_while_a_thread_walks_the_loader_list() {
  robust::ThreadInsideLoaderWalk walker;
  const pid_t pid = fork();
  if (pid == 0) {
    alarm(5);
    leakguard::start();
    const std::size_t before = leakguard::get_traced_memory().current;
    void* p = std::malloc(100);
    asm volatile("" : : "r"(p) : "memory");  // the pair is not optimised away
    const bool ok = leakguard::get_traced_memory().current - before == 100;
    std::free(p);
    _exit(ok ? 0 : 1);
  }
  walker.release();
  return pid;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "loader") == 0) {
    robust::print_child_outcome(fork_while_a_thread_walks_the_loader_list(), "could not trace");
    return 0;
  }
  g_spin_us = argc > 1 ? std::atol(argv[1]) : 0;
  pthread_atfork(prepare_and_let_the_starter_go, nullptr, nullptr);
  std::thread starter([] {
    while (!g_go.load()) {
    }
    leakguard::start();
  });
  const pid_t pid = fork();
  if (pid == 0) {
    alarm(5);  // a hang ends the child with SIGALRM
    leakguard::start();
    void* p = std::malloc(100);
    const bool ok = leakguard::get_object_traceback(p).has_value();
    std::free(p);
    _exit(ok ? 0 : 1);
  }
  starter.join();
  robust::print_child_outcome(pid, "could not trace");
  return 0;
}
