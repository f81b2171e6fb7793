// A shared library the test program loads with dlopen() after tracing started: its allocations go
// through whichever malloc/operator new the process resolved (leakguard's), and its frames must
// appear in the stack.
#include <cstdlib>
#include <string>

#define PLUGIN_API extern "C" __attribute__((visibility("default"), noinline))

namespace {
__attribute__((noinline)) void* plugin_inner(std::size_t n) {
  void* p = std::malloc(n);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}
__attribute__((noinline)) void* plugin_middle(std::size_t n) {
  void* p = plugin_inner(n);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}
}  // namespace

PLUGIN_API void* plugin_allocate(std::size_t n) {
  void* p = plugin_middle(n);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}

// A std::string built inside the plugin: operator new from the plugin, through libstdc++.
PLUGIN_API void* plugin_make_string(std::size_t n) {
  auto* s = new std::string(n, 'p');
  asm volatile("" : : "r"(s) : "memory");
  return s;
}
PLUGIN_API const void* plugin_string_data(void* s) { return static_cast<std::string*>(s)->data(); }
PLUGIN_API void plugin_free_string(void* s) { delete static_cast<std::string*>(s); }
