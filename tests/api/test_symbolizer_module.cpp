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

// Exit codes of the children: 0 when the traceback names the allocating line, else what failed.
[[noreturn]] void exit_with_traceback_of_a_new_block() {
  lgtest::Tracing tracing;
  auto* p = static_cast<char*>(std::malloc(48)); const int line = __LINE__;
  keep(p);
  const auto tb = leakguard::get_object_traceback(p);
  if (!tb.has_value()) std::_Exit(10);
  const bool named = tb->attribution_frame().filename == __FILE__ && tb->attribution_frame().lineno == line;
  std::fprintf(stderr, "traceback: %s\n", tb->str().c_str());
  std::free(p);
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
        exit_with_traceback_of_a_new_block();  // exits 0 only if it names this file and line
      },
      ::testing::ExitedWithCode(0), "traceback: .*test_symbolizer_module.cpp:[0-9]+");
}

TEST(SymbolizerModule, LibdwIsLoadedWithTheModule) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        lgtest::Tracing tracing;
        auto* p = static_cast<char*>(std::malloc(48));
        keep(p);
        (void)leakguard::get_object_traceback(p)->str();
        std::free(p);
        std::_Exit(loaded("libleakguard_symbolize") && loaded("libdw.so") ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(SymbolizerModule, AnUnloadablePathInTheEnvironmentIsNamedAndTheDefaultServes) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ::setenv("LEAKGUARD_SYMBOLIZER", "/nonexistent/libnothing.so", 1);
        exit_with_traceback_of_a_new_block();
      },
      ::testing::ExitedWithCode(0),
      "leakguard: LEAKGUARD_SYMBOLIZER='/nonexistent/libnothing.so' cannot be used \\(/nonexistent/libnothing.so: "
      "cannot open shared object file.*trying the default places");
}

TEST(SymbolizerModule, ALibraryThatIsNotTheModuleIsNamedAndTheDefaultServes) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ::setenv("LEAKGUARD_SYMBOLIZER", "libm.so.6", 1);
        exit_with_traceback_of_a_new_block();
      },
      ::testing::ExitedWithCode(0),
      "LEAKGUARD_SYMBOLIZER='libm.so.6' cannot be used \\(libm.so.6: not a leakguard symbolizer of this version");
}

TEST(SymbolizerModule, TheEnvironmentNamesTheModuleToUse) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ::setenv("LEAKGUARD_SYMBOLIZER", LEAKGUARD_TEST_SYMBOLIZER_PATH, 1);
        exit_with_traceback_of_a_new_block();
      },
      ::testing::ExitedWithCode(0), "traceback: .*test_symbolizer_module.cpp:[0-9]+");
}

}  // namespace
