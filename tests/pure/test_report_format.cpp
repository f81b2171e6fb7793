// The text report of a hand-built report, where every frame is known: folding, limits, names.
#include <gtest/gtest.h>

#include "leakguard/report.hpp"

namespace leakguard {
namespace {

Frame frame(const std::string& function, const std::string& file, int line, const std::string& module = "/bin/app") {
  Frame f;
  f.function = function;
  f.filename = file;
  f.lineno = line;
  f.module = module;
  return f;
}

TEST(ReportFormat, ExactTextWithFoldedSystemFramesAndCleanNames) {
  Report r;
  r.what = "leak";
  r.total_bytes = 4096 + 10;
  r.total_blocks = 3;
  std::vector<Frame> frames = {frame("allocate", "/usr/include/c++/12/bits/new_allocator.h", 137),
                               frame("std::vector<int>::_M_realloc_insert", "/usr/include/c++/12/bits/vector.tcc", 440),
                               frame("Cache::grow(int) [clone .constprop.0] [clone .isra.0]", "/src/cache.cpp", 42),
                               frame("Cache::add(int)", "/src/cache.cpp", 17),
                               frame("__libc_start_main", "", 0, "/lib/x86_64-linux-gnu/libc.so.6")};
  frames[3].inlined = true;
  Frame no_debug;
  no_debug.function = "helper()";
  no_debug.module = "/opt/lib/libthing.so";
  no_debug.module_offset = 0x1a2b;
  r.sites.push_back(ReportSite{4096, 2, 4096, 2, Traceback(frames, 5)});
  r.sites.push_back(ReportSite{10, 1, 10, 1, Traceback({no_debug}, 1)});
  EXPECT_EQ(format_text(r),
            "leakguard: leak: +4.0 KiB in +3 blocks\n"
            "  +4.0 KiB +2 blocks  /src/cache.cpp:42\n"
            "      ... 2 frames in system code: new_allocator.h, vector.tcc\n"
            "      at Cache::grow(int) /src/cache.cpp:42\n"
            "      at Cache::add(int) /src/cache.cpp:17 [inlined]\n"
            "      ... 1 frame in system code: libc.so.6\n"
            "  +10 B +1 block  helper() (/opt/lib/libthing.so+0x1a2b)\n"
            "      at helper() (libthing.so+0x1a2b)\n");
  TextOptions tight;
  tight.max_sites = 1;
  tight.max_frames = 2;
  EXPECT_EQ(format_text(r, tight),
            "leakguard: leak: +4.0 KiB in +3 blocks\n"
            "  +4.0 KiB +2 blocks  /src/cache.cpp:42\n"
            "      ... 2 frames in system code: new_allocator.h, vector.tcc\n"
            "      at Cache::grow(int) /src/cache.cpp:42\n"
            "      ... 2 more frames\n"
            "  ... 1 more sites: +10 B in +1 block\n");
}

TEST(ReportFormat, CollapsedStacksOutermostFirst) {
  Report r;
  r.sites.push_back(ReportSite{100, 1, 100, 1, Traceback({frame("inner()", "/a.cpp", 1), frame("outer()", "/a.cpp", 9)}, 2)});
  r.sites.push_back(ReportSite{-50, -1, 0, 0, Traceback({frame("gone()", "/a.cpp", 5)}, 1)});
  EXPECT_EQ(to_collapsed(r), "outer();inner() 100\n");
}

}  // namespace
}  // namespace leakguard
