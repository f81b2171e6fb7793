// Size formatting (tracemalloc's _format_size), demangled-name parsing and the attribution rule.
#include <gtest/gtest.h>

#include "leakguard/attribution.hpp"
#include "snapshot/format_size.hpp"

namespace leakguard {
namespace {

TEST(FormatSize, FollowsTracemallocDigitRules) {
  using detail::format_size;
  EXPECT_EQ(format_size(0, false), "0 B");
  EXPECT_EQ(format_size(4096, false), "4096 B");
  EXPECT_EQ(format_size(10239, false), "10239 B");
  EXPECT_EQ(format_size(10240, false), "10.0 KiB");
  EXPECT_EQ(format_size(256000, false), "250 KiB");
  EXPECT_EQ(format_size(1.5 * 1024 * 1024, false), "1536 KiB");
  EXPECT_EQ(format_size(24.0 * 1024 * 1024, false), "24.0 MiB");
  EXPECT_EQ(format_size(4096, true), "+4096 B");
  EXPECT_EQ(format_size(-20480, true), "-20.0 KiB");
  EXPECT_EQ(format_size(3.0 * 1024 * 1024 * 1024 * 1024 * 1024, false), "3072 TiB");
}

TEST(QualifiedFunctionName, StripsReturnTypeAndParameters) {
  EXPECT_EQ(qualified_function_name("void std::vector<int, std::allocator<int> >::push_back(int const&)"),
            "std::vector<int, std::allocator<int> >::push_back");
  EXPECT_EQ(qualified_function_name("main"), "main");
  EXPECT_EQ(qualified_function_name("(anonymous namespace)::load(int)"), "(anonymous namespace)::load");
  EXPECT_EQ(qualified_function_name("operator new(unsigned long)"), "operator new");
  EXPECT_EQ(qualified_function_name("bool Foo::operator<(Foo const&) const"), "Foo::operator<");
  EXPECT_EQ(qualified_function_name("Foo::operator()(int)"), "Foo::operator()");
}

Frame frame(std::string file, int line, std::string function, std::string module = "/bin/app") {
  Frame f;
  f.filename = std::move(file);
  f.lineno = line;
  f.function = std::move(function);
  f.module = std::move(module);
  return f;
}

TEST(AttributionRule, SkipsSystemHeadersLibrariesAndNamespaces) {
  const AttributionRule rule = AttributionRule::defaults();
  EXPECT_TRUE(rule.is_system(frame("/usr/include/c++/12/bits/new_allocator.h", 137, "allocate")));
  EXPECT_TRUE(rule.is_system(frame("", 0, "malloc", "/lib/x86_64-linux-gnu/libc.so.6")));
  EXPECT_TRUE(rule.is_system(frame("", 0, "std::__cxx11::basic_string<char>::_M_create(unsigned long&, unsigned long)",
                                   "/opt/app/libfoo.so")));
  EXPECT_FALSE(rule.is_system(frame("/src/app.cpp", 12, "load_orders(int)")));
  EXPECT_FALSE(rule.is_system(frame("", 0, "load_orders(int)", "/opt/app/bin/app")));
}

TEST(AttributionRule, TracebacksAttributeToTheFirstNonSystemFrameAndUsersCanChangeTheRule) {
  const std::vector<Frame> frames = {frame("/usr/include/c++/12/bits/new_allocator.h", 137, "allocate"),
                                     frame("/src/vendor/pool.h", 40, "Pool::grow()"),
                                     frame("/src/app.cpp", 12, "main")};
  EXPECT_EQ(Traceback(frames, 3).attribution_index(), 1u);

  const AttributionRule saved = attribution_rule();
  AttributionRule custom = AttributionRule::defaults();
  custom.system_files.push_back("*/vendor/*");
  set_attribution_rule(custom);
  const Traceback tb(frames, 3);
  set_attribution_rule(saved);
  EXPECT_EQ(tb.attribution_index(), 2u);
  EXPECT_EQ(tb.str(), "/src/app.cpp:12");

  // Every frame system: the most recent one is used.
  EXPECT_EQ(Traceback({frames[0]}, 1).attribution_index(), 0u);
}

}  // namespace
}  // namespace leakguard
