// LSan-syntax suppressions: parsing with errors that name the line, and matching any frame's
// function, file or module.
#include <gtest/gtest.h>

#include "leakguard/suppressions.hpp"

namespace leakguard {
namespace {

Frame frame(const std::string& function, const std::string& file, const std::string& module) {
  Frame f;
  f.function = function;
  f.filename = file;
  f.lineno = 1;
  f.module = module;
  return f;
}

TEST(Suppressions, PatternsFollowLsan) {
  EXPECT_TRUE(suppression_matches("Cache", "app::Cache::grow(int)"));
  EXPECT_TRUE(suppression_matches("^app::", "app::Cache::grow(int)"));
  EXPECT_FALSE(suppression_matches("^Cache", "app::Cache::grow(int)"));
  EXPECT_TRUE(suppression_matches("grow(int)$", "app::Cache::grow(int)"));
  EXPECT_FALSE(suppression_matches("grow$", "app::Cache::grow(int)"));
  EXPECT_TRUE(suppression_matches("libthird*.so", "/opt/lib/libthirdparty.so.1"));
  EXPECT_FALSE(suppression_matches("anything", ""));
}

TEST(Suppressions, ParseAndMatchAnyFrame) {
  const Suppressions s = Suppressions::parse("# comment\n\n  leak:vendor/parser.cpp  \nleak:^legacy::\n", "supp.txt");
  const Traceback vendor({frame("std::vector<int>::push_back", "/usr/include/c++/12/bits/stl_vector.h", "/bin/t"),
                          frame("parse()", "/src/vendor/parser.cpp", "/bin/t")},
                         2);
  const Traceback legacy({frame("legacy::Pool::take()", "/src/pool.cpp", "/bin/t")}, 1);
  const Traceback mine({frame("mine()", "/src/mine.cpp", "/bin/t")}, 1);
  ASSERT_NE(s.match(vendor), nullptr);
  EXPECT_EQ(*s.match(vendor), "vendor/parser.cpp");
  ASSERT_NE(s.match(legacy), nullptr);
  EXPECT_EQ(*s.match(legacy), "^legacy::");
  EXPECT_EQ(s.match(mine), nullptr);
}

TEST(Suppressions, BadLinesAreNamed) {
  auto error = [](const std::string& text) {
    try {
      Suppressions::parse(text, "supp.txt");
    } catch (const SuppressionError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(error("leak:ok\nnot a suppression\n"),
            "leakguard: suppressions 'supp.txt', line 2: 'not a suppression' is not of the form leak:<pattern>");
  EXPECT_EQ(error("race:foo\n"),
            "leakguard: suppressions 'supp.txt', line 1: unknown kind 'race' (only leak: suppressions apply here)");
  EXPECT_EQ(error("\n\nleak:\n"), "leakguard: suppressions 'supp.txt', line 3: leak: has no pattern");
  EXPECT_THROW(Suppressions::load("/nonexistent/supp.txt"), SuppressionError);
}

}  // namespace
}  // namespace leakguard
