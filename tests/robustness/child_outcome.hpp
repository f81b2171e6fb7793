// How a probe's forked child ended, printed as the probe's one line of output: "ok", or what went
// wrong (a hang ends the child with the SIGALRM it armed). The tests compare the line.
#pragma once
#include <sys/wait.h>

#include <csignal>
#include <cstdio>

namespace robust {

inline void print_child_outcome(pid_t pid, const char* failure) {
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) {
    std::printf("child killed by signal %d%s\n", WTERMSIG(status), WTERMSIG(status) == SIGALRM ? " (hung)" : "");
  } else if (WEXITSTATUS(status) != 0) {
    std::printf("child %s\n", failure);
  } else {
    std::printf("ok\n");
  }
}

}  // namespace robust
