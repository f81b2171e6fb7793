// A program where libleakguard_symbolize.so cannot be loaded (here: this program's own dlopen
// refuses it, standing in for a package installed without it) still gets its tracebacks, by
// module and symbol, and one message that says what is missing and how to name it.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "test_support.hpp"

namespace {
int g_refused = 0;
}  // namespace

// Binds before libc's: the static core is linked into this executable.
extern "C" void* dlopen(const char* file, int mode) {
  using Real = void* (*)(const char*, int);
  static const Real real = reinterpret_cast<Real>(dlsym(RTLD_NEXT, "dlopen"));
  if (file != nullptr && std::strstr(file, "leakguard_symbolize") != nullptr) {
    ++g_refused;
    return nullptr;
  }
  return real(file, mode);
}

namespace {

using lgtest::keep;

TEST(SymbolizerMissing, TracebacksNameTheModuleAndTheProblemIsSaidOnce) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // a fresh process: nothing symbolized yet
  EXPECT_EXIT(
      {
        lgtest::Tracing tracing;
        for (int round = 0; round < 2; ++round) {
          auto* p = static_cast<char*>(std::malloc(48));
          keep(p);
          const auto tb = leakguard::get_object_traceback(p);
          if (!tb.has_value() || tb->frames().empty()) std::_Exit(2);
          const leakguard::Frame& f = tb->frames()[0];
          if (!f.filename.empty() || f.lineno != 0) std::_Exit(3);  // no DWARF read
          if (f.module.find("api_symbolizer_missing") == std::string::npos) std::_Exit(4);
          std::free(p);
        }
        if (g_refused == 0) std::_Exit(5);
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0),
      "^leakguard: cannot load the symbolizer \\([^)]*\\); reports name functions without files and lines\\. "
      "Set LEAKGUARD_SYMBOLIZER to the path of libleakguard_symbolize\\.so\\.\n$");
}

}  // namespace
