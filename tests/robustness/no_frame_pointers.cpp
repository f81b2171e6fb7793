// A "library under test" compiled without frame pointers (see CMakeLists.txt): its functions use
// rbp as an ordinary register, so the frame-pointer chain breaks inside them.
#include <cstdlib>

extern "C" {
__attribute__((noinline)) void* nofp_inner(std::size_t n) {
  void* p = std::malloc(n);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}
__attribute__((noinline)) void* nofp_outer(std::size_t n) {
  void* p = nofp_inner(n + 1);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}
}
