// The boundary between leakguard's core and libleakguard_symbolize.so, the module that reads
// DWARF (backward-cpp over libdw). The core loads it with dlopen at the first report, so that a
// process that never reports never loads libdw and the four libraries it needs (~0.25 ms of every
// process's start-up on the project's machine, most of a test's cost when ctest runs one test a
// process). Plain C types only: the two sides need not agree on anything but this header.
#pragma once
#include <cstdint>

extern "C" {

// Receives what one address resolved to.
struct LeakguardDwarfSink {
  void* context;
  // The object file holding the address, and the function containing it (either may be null).
  void (*object)(void* context, const char* filename, const char* function);
  // Source locations in backward-cpp's order: the code at the address (its function, file and
  // line), then each inlined call around it, innermost first: the inlined function's name and
  // the call site in the function it was inlined into. Strings may be null or empty.
  void (*location)(void* context, const char* function, const char* filename, unsigned line);
};

// A resolver over the modules loaded now; null without memory. Names versioned: a module of
// another version is not mistaken for this one.
void* leakguard_dwarf_open_v1();
void leakguard_dwarf_close_v1(void* resolver);
void leakguard_dwarf_resolve_v1(void* resolver, std::uintptr_t pc, const LeakguardDwarfSink* sink);

}  // extern "C"
