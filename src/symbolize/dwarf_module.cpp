// libleakguard_symbolize.so: return address -> object, function, file:line and inlined call
// sites, by backward-cpp over libdw. Loaded by the core (symbolizer.cpp) only when a report is
// made; it links nothing of leakguard's, so it adds no second interposer.
#include "dwarf_module.hpp"

#include <new>

#include <backward.hpp>

#define LG_EXPORT __attribute__((visibility("default")))

extern "C" {

LG_EXPORT void* leakguard_dwarf_open_v1() { return new (std::nothrow) backward::TraceResolver(); }

LG_EXPORT void leakguard_dwarf_close_v1(void* resolver) {
  delete static_cast<backward::TraceResolver*>(resolver);
}

LG_EXPORT void leakguard_dwarf_resolve_v1(void* resolver, std::uintptr_t pc, const LeakguardDwarfSink* sink) {
  auto* r = static_cast<backward::TraceResolver*>(resolver);
  backward::ResolvedTrace trace(backward::Trace(reinterpret_cast<void*>(pc), 0));
  trace = r->resolve(trace);
  sink->object(sink->context, trace.object_filename.c_str(), trace.object_function.c_str());
  sink->location(sink->context, trace.source.function.c_str(), trace.source.filename.c_str(), trace.source.line);
  // backward lists inlined subroutines innermost first, each with the call site in the function
  // it was inlined into.
  for (const auto& callee : trace.inliners) {
    sink->location(sink->context, callee.function.c_str(), callee.filename.c_str(), callee.line);
  }
}

}  // extern "C"
