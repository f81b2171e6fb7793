// Which frame a block is attributed to in lineno/filename statistics and reports.
//
// A C++ allocation's most recent frames are usually the allocator and the standard library:
// operator new <- __new_allocator::allocate <- vector::_M_realloc_insert <- vector::push_back <-
// your line. leakguard attributes the block to the most recent frame that is *not* system code,
// i.e. the line that called push_back. A frame is system code when:
//   - its module matches one of `system_modules` (fnmatch), e.g. */libc.so*; or else
//   - it has a source file, and that file matches one of `system_files`, e.g. /usr/include/*; or
//   - it has no source file, and its function's qualified name starts with one of
//     `system_namespaces`, e.g. std::.
// The full traceback is always kept; only the attribution frame changes. When every frame is
// system code, the most recent frame is used.
#pragma once
#include <string>
#include <vector>

#include "leakguard/export.hpp"
#include "leakguard/traceback.hpp"

namespace leakguard {

struct LEAKGUARD_API AttributionRule {
  std::vector<std::string> system_files;
  std::vector<std::string> system_modules;
  std::vector<std::string> system_namespaces;

  // The default described above: system headers (/usr/include, /usr/lib/gcc, /usr/local/include),
  // leakguard's own headers, the C/C++ runtime and loader modules, and the std, __gnu_cxx,
  // __cxxabiv1 and leakguard namespaces.
  static AttributionRule defaults();
  bool is_system(const Frame& frame) const;
};

// The rule used by tracebacks built from now on. Thread-safe.
LEAKGUARD_API AttributionRule attribution_rule();
LEAKGUARD_API void set_attribution_rule(AttributionRule rule);

// The qualified name of a demangled function, without return type or parameters:
// "void std::vector<int>::push_back(int const&)" -> "std::vector<int>::push_back".
LEAKGUARD_API std::string qualified_function_name(const std::string& demangled);

}  // namespace leakguard
