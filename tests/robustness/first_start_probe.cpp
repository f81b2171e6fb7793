// fork() while another thread runs the very first leakguard::start(), which initialises the
// tracer: the child must be able to start tracing and allocate. Prints "ok" or what went wrong;
// test_first_start.cpp runs it many times, each run a fresh process.
//
// The start is made to land inside the fork: glibc runs prepare handlers with its handler lock
// released, so another thread may register handlers then, and those are skipped for that fork.
// This probe's prepare handler lets the starter go and then spins a varying while (the argument,
// in microseconds), so that the fork copies the process at some instant of the first start.
#include <leakguard/leakguard.hpp>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace {

std::atomic<bool> g_go{false};
long g_spin_us = 0;

void prepare_and_let_the_starter_go() {
  g_go.store(true);
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(g_spin_us);
  while (std::chrono::steady_clock::now() < until) {
  }
}

}  // namespace

int main(int argc, char** argv) {
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
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) {
    std::printf("child killed by signal %d%s\n", WTERMSIG(status), WTERMSIG(status) == SIGALRM ? " (hung)" : "");
  } else if (WEXITSTATUS(status) != 0) {
    std::printf("child could not trace\n");
  } else {
    std::printf("ok\n");
  }
  return 0;
}
