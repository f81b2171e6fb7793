// fork() while another thread runs the very first leakguard::start(), which initialises the
// tracer: the child must be able to start tracing and allocate. Prints "ok" or what went wrong;
// test_first_start.cpp runs it many times, each run a fresh process.
#include <leakguard/leakguard.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

int main() {
  std::thread starter([] { leakguard::start(); });
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
