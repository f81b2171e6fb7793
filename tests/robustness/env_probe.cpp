// Prints the tracing state leakguard's environment switches produced, for test_environment.
#include <leakguard/leakguard.hpp>

#include <cstdio>
#include <cstdlib>

int main() {
  void* p = std::malloc(10);
  asm volatile("" : : "r"(p) : "memory");
  std::printf("tracing=%d limit=%d traced=%d\n", leakguard::is_tracing() ? 1 : 0,
              leakguard::get_traceback_limit(), leakguard::get_object_traceback(p) ? 1 : 0);
  std::free(p);
  return 0;
}
