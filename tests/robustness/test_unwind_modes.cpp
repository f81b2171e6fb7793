// Code built without frame pointers: in the default mode the allocating frame is still right; in
// cfi mode (LEAKGUARD_UNWIND=cfi) every frame is stepped by its unwind rule and the whole chain
// back to the test is there.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include <leakguard/leakguard.hpp>

#include "core/modules.hpp"

extern "C" void* nofp_outer(std::size_t n);

namespace {

int index_of(const leakguard::Traceback& tb, const std::string& name) {
  for (std::size_t i = 0; i < tb.size(); ++i) {
    if (tb[i].function.find(name) != std::string::npos) return static_cast<int>(i);
  }
  return -1;
}

__attribute__((noinline)) void* call_library() {
  void* p = nofp_outer(10);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}

TEST(UnwindModes, FramePointerModeKeepsTheAllocatingFrame) {
  leakguard::start(32);
  void* p = call_library();
  const auto tb = leakguard::get_object_traceback(p);
  ASSERT_TRUE(tb.has_value());
  EXPECT_EQ(index_of(*tb, "nofp_inner"), 0);
  std::free(p);
  leakguard::stop();
}

TEST(UnwindModes, CfiModeWalksThroughCodeWithoutFramePointers) {
  leakguard::detail::set_unwind_mode(leakguard::detail::UnwindMode::kCfi);
  leakguard::start(32);
  void* p = call_library();
  const auto tb = leakguard::get_object_traceback(p);
  ASSERT_TRUE(tb.has_value());
  std::string frames;
  for (const auto& f : *tb) frames += "\n  " + f.function;
  EXPECT_EQ(index_of(*tb, "nofp_inner"), 0) << frames;
  EXPECT_EQ(index_of(*tb, "nofp_outer"), 1) << frames;
  EXPECT_EQ(index_of(*tb, "call_library"), 2) << frames;
  EXPECT_EQ(index_of(*tb, "CfiModeWalksThroughCodeWithoutFramePointers"), 3) << frames;
  EXPECT_GT(index_of(*tb, "main"), 3) << frames;  // through gtest's own frame-pointer-less code
  std::free(p);
  leakguard::stop();
  leakguard::detail::set_unwind_mode(leakguard::detail::UnwindMode::kFramePointers);
}

}  // namespace
