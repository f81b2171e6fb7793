// The core API from the installed package: a snapshot difference names this file's line.
#include <leakguard/leakguard.hpp>

#include <cstdio>
#include <vector>

int main() {
  leakguard::start();
  const auto before = leakguard::take_snapshot();
  std::vector<char>* kept = new std::vector<char>(4096);
  const auto after = leakguard::take_snapshot();
  const auto diff = after.compare_to(before, "lineno");
  std::printf("%s\n", diff.empty() ? "(nothing)" : diff[0].str().c_str());
  delete kept;
  return 0;
}
