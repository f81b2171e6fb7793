// The DWARF reader is a module of its own (libleakguard_symbolize.so), loaded at the first
// report: a process that never reports never loads libdw. Each test runs in a fresh process (a
// threadsafe death-test child), where nothing has been symbolized yet.
#include <gtest/gtest.h>
#include <link.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "test_support.hpp"

namespace {

using lgtest::keep;

bool loaded(const char* name_part) {
  struct Search {
    const char* part;
    bool found;
  } search{name_part, false};
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) {
        auto* s = static_cast<Search*>(data);
        if (info->dlpi_name != nullptr && std::strstr(info->dlpi_name, s->part) != nullptr) s->found = true;
        return 0;
      },
      &search);
  return search.found;
}

// In a child: with LEAKGUARD_SYMBOLIZER set to `env` (unless null), a new block's traceback.
// Exits 0 when it names the allocating line and both the module (a loaded object whose name
// contains `module`) and libdw are loaded then, else with what failed.
[[noreturn]] void exit_with_traceback_of_a_new_block(const char* env = nullptr,
                                                     const char* module = "libleakguard_symbolize") {
  if (env != nullptr) ::setenv("LEAKGUARD_SYMBOLIZER", env, 1);
  lgtest::Tracing tracing;
  auto* p = static_cast<char*>(std::malloc(48)); const int line = __LINE__;
  keep(p);
  const auto tb = leakguard::get_object_traceback(p);
  if (!tb.has_value()) std::_Exit(10);
  const bool named = tb->attribution_frame().filename == __FILE__ && tb->attribution_frame().lineno == line;
  std::fprintf(stderr, "traceback: %s\n", tb->str().c_str());
  std::free(p);
  if (!loaded(module) || !loaded("libdw.so")) std::_Exit(12);
  std::_Exit(named ? 0 : 11);
}

TEST(SymbolizerModule, IsLoadedAtTheFirstReportAndNotBefore) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        {
          lgtest::Tracing tracing;
          for (int i = 0; i < 100; ++i) keep(new std::string(100, 'x'));  // traced, never reported
          if (loaded("libdw.so") || loaded("libleakguard_symbolize")) std::_Exit(2);
        }
        exit_with_traceback_of_a_new_block();
      },
      ::testing::ExitedWithCode(0), "traceback: .*test_symbolizer_module.cpp:[0-9]+");
}

// A value of LEAKGUARD_SYMBOLIZER that cannot serve is named with the reason, and the default
// module then serves.
TEST(SymbolizerModule, AnEnvironmentValueThatCannotServeIsNamedAndTheDefaultServes) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const struct {
    const char* value;
    const char* said;
  } cases[] = {
      {"/nonexistent/libnothing.so",
       "LEAKGUARD_SYMBOLIZER='/nonexistent/libnothing.so' cannot be used \\(/nonexistent/libnothing.so: "
       "cannot open shared object file.*trying the default places"},
      {"libm.so.6",
       "LEAKGUARD_SYMBOLIZER='libm.so.6' cannot be used \\(libm.so.6: not a leakguard symbolizer of this "
       "version.*trying the default places"},
  };
  for (const auto& c : cases) {
    EXPECT_EXIT(exit_with_traceback_of_a_new_block(c.value), ::testing::ExitedWithCode(0), c.said) << c.value;
  }
}

// The module the environment names is the one loaded: a copy under another name (made by the
// build, tests/api/CMakeLists.txt).
TEST(SymbolizerModule, TheEnvironmentNamesTheModuleToUse) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(exit_with_traceback_of_a_new_block(LEAKGUARD_TEST_SYMBOLIZER_COPY, "libcopied_reader.so"),
              ::testing::ExitedWithCode(0), "^traceback: .*test_symbolizer_module.cpp:[0-9]+\n$");
}

}  // namespace
