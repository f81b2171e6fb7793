// Runs a shell command (a probe executable of these tests) and keeps what it printed and how it
// ended, for tests of what happens before main, at exit, or in a process of its own.
#pragma once
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace lgtest {

struct CommandRun {
  std::string output;  // what reached the pipe: say "2>&1" in the command for stderr too
  int exit_code = -1;
  int signal = 0;  // the shell reports a child killed by a signal as 128 + signal
};

inline CommandRun run_command(const std::string& command) {
  CommandRun run;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  std::array<char, 256> buf{};
  while (fgets(buf.data(), buf.size(), pipe) != nullptr) run.output += buf.data();
  const int status = pclose(pipe);
  if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  if (run.exit_code > 128) run.signal = run.exit_code - 128;
  return run;
}

}  // namespace lgtest
