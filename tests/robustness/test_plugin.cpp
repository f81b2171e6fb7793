// A shared library loaded with dlopen() after start(): its allocations are traced, by the static
// (leakguard::leakguard) and the shared (leakguard::shared) variant alike (this file is built
// against each), and stacks walk through its frames back to the test. After dlclose and a second
// dlopen, tracing goes on.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <leakguard/leakguard.hpp>

#include "loader_walk.hpp"
#include "watchdog.hpp"

namespace {

int index_of(const leakguard::Traceback& tb, const std::string& name) {
  for (std::size_t i = 0; i < tb.size(); ++i) {
    if (tb[i].function.find(name) != std::string::npos) return static_cast<int>(i);
  }
  return -1;
}

std::string dump(const leakguard::Traceback& tb) {
  std::string out;
  for (const auto& f : tb) out += "\n  " + f.function + " @ " + f.str() + " [" + f.module + "]";
  return out;
}

// The plugin's innermost frame allocated, reached from the test's call_plugin through its two
// frames between.
void expect_allocated_in_the_plugin(const leakguard::Traceback& tb) {
  EXPECT_EQ(index_of(tb, "plugin_inner"), 0) << dump(tb);
  EXPECT_EQ(index_of(tb, "call_plugin"), 3) << dump(tb);
}

struct Plugin {
  void* handle = nullptr;
  void* (*allocate)(std::size_t) = nullptr;
  void* (*make_string)(std::size_t) = nullptr;
  const void* (*string_data)(void*) = nullptr;
  void (*free_string)(void*) = nullptr;

  Plugin() {
    handle = dlopen(LEAKGUARD_TEST_PLUGIN, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) return;
    allocate = reinterpret_cast<void* (*)(std::size_t)>(dlsym(handle, "plugin_allocate"));
    make_string = reinterpret_cast<void* (*)(std::size_t)>(dlsym(handle, "plugin_make_string"));
    string_data = reinterpret_cast<const void* (*)(void*)>(dlsym(handle, "plugin_string_data"));
    free_string = reinterpret_cast<void (*)(void*)>(dlsym(handle, "plugin_free_string"));
  }
  ~Plugin() {
    if (handle != nullptr) dlclose(handle);
  }
  bool ok() const { return allocate && make_string && string_data && free_string; }
};

__attribute__((noinline)) void* call_plugin(Plugin& plugin, std::size_t n) {
  void* p = plugin.allocate(n);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}

TEST(Plugin, AllocationsInALibraryLoadedAfterStartAreTracedWithTheirStack) {
  leakguard::start(32);
  Plugin plugin;
  ASSERT_TRUE(plugin.ok()) << dlerror();
  const std::size_t after_load = leakguard::get_traced_memory().current;
  void* p = call_plugin(plugin, 4321);
  EXPECT_EQ(leakguard::get_traced_memory().current - after_load, 4321u);
  const auto tb = leakguard::get_object_traceback(p);
  ASSERT_TRUE(tb.has_value());
  EXPECT_EQ(index_of(*tb, "plugin_inner"), 0) << dump(*tb);
  EXPECT_EQ(index_of(*tb, "plugin_middle"), 1) << dump(*tb);
  EXPECT_EQ(index_of(*tb, "plugin_allocate"), 2) << dump(*tb);
  EXPECT_EQ(index_of(*tb, "call_plugin"), 3) << dump(*tb);
  EXPECT_EQ(index_of(*tb, "AllocationsInALibraryLoadedAfterStart"), 4) << dump(*tb);
  EXPECT_NE((*tb)[0].module.find("robust_plugin"), std::string::npos) << dump(*tb);
  // libstdc++ called from the plugin.
  void* s = plugin.make_string(3000);
  const auto stb = leakguard::get_object_traceback(plugin.string_data(s));
  ASSERT_TRUE(stb.has_value());
  const int maker = index_of(*stb, "plugin_make_string");
  EXPECT_GE(maker, 0) << dump(*stb);
  EXPECT_GT(index_of(*stb, "AllocationsInALibraryLoadedAfterStart"), maker) << dump(*stb);
  plugin.free_string(s);
  std::free(p);
  EXPECT_EQ(leakguard::get_traced_memory().current, after_load);
  leakguard::stop();
}

TEST(Plugin, TracingGoesOnAcrossDlcloseAndReload) {
  leakguard::start(32);
  void* kept = nullptr;
  {
    Plugin plugin;
    ASSERT_TRUE(plugin.ok()) << dlerror();
    kept = call_plugin(plugin, 111);
    ASSERT_TRUE(leakguard::get_object_traceback(kept).has_value());
  }  // unloaded: the block outlives the code that allocated it
  void* after = std::malloc(222); const int line = __LINE__;
  const auto tb = leakguard::get_object_traceback(after);
  ASSERT_TRUE(tb.has_value());
  EXPECT_EQ(tb->attribution_frame().lineno, line);
  // The kept block's stack names addresses of unloaded code: a snapshot still works.
  const auto snap = leakguard::take_snapshot();
  for (const auto& stat : snap.statistics("traceback")) (void)stat.str();
  std::free(kept);
  {
    Plugin again;
    ASSERT_TRUE(again.ok()) << dlerror();
    void* p = call_plugin(again, 333);
    const auto tb2 = leakguard::get_object_traceback(p);
    ASSERT_TRUE(tb2.has_value());
    expect_allocated_in_the_plugin(*tb2);
    std::free(p);
  }
  std::free(after);
  leakguard::stop();
}

// A fork that copied another thread inside dl_iterate_phdr leaves the child the loader's list lock
// held for good (glibc does not reset it): the child's allocations through a library loaded since
// the start, whose frames the walker meets for the first time there, must not walk that list.
// They used to (to learn of the new module) and the child hung. The child does not symbolize: a
// report walks the list, as anything in such a child that does.
TEST(Plugin, AChildForkedWhileAThreadWalksTheLoaderListTracesALibraryLoadedSinceTheStart) {
  leakguard::start(32);
  Plugin plugin;
  ASSERT_TRUE(plugin.ok()) << dlerror();
  robust::ThreadInsideLoaderWalk walker;
  const pid_t pid = fork();
  if (pid == 0) {
    alarm(10);  // a hang ends the child with SIGALRM
    const std::size_t before = leakguard::get_traced_memory().current;
    void* p = call_plugin(plugin, 4321);
    const bool ok = leakguard::get_traced_memory().current - before == 4321;
    std::free(p);
    _exit(ok ? 0 : 1);
  }
  walker.release();
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status)) << "child killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
  // And in the parent, the library's frames are in its stacks.
  void* p = call_plugin(plugin, 1234);
  const auto tb = leakguard::get_object_traceback(p);
  ASSERT_TRUE(tb.has_value());
  expect_allocated_in_the_plugin(*tb);
  std::free(p);
  leakguard::stop();
}

// The loader and the tracer side by side: one thread loads and unloads the plugin (the loader
// allocates under its own lock, and the plugin's code comes and goes under the stack walker),
// another allocates through it, another takes symbolized snapshots. Nothing deadlocks.
TEST(Plugin, LoadingAndUnloadingWhileOthersAllocateAndSnapshot) {
  robust::Watchdog watchdog(30);
  leakguard::start(32);
  std::atomic<bool> done{false};
  std::atomic<int> loads{0};
  std::atomic<int> snapshots{0};
  std::thread loader([&] {
    while (snapshots.load() == 0) std::this_thread::yield();
    for (int i = 0; i < 100; ++i) {
      Plugin plugin;
      if (!plugin.ok()) continue;
      for (int j = 0; j < 100; ++j) std::free(call_plugin(plugin, 16 + j));
      void* s = plugin.make_string(500);
      plugin.free_string(s);
      loads.fetch_add(1);
    }
    done = true;
  });
  std::thread allocator([&] {
    std::vector<void*> live;
    while (!done.load()) {
      for (int i = 0; i < 64; ++i) live.push_back(std::malloc(24 + i));
      for (void* p : live) std::free(p);
      live.clear();
    }
  });
  std::thread reader([&] {
    while (!done.load()) {
      for (const auto& stat : leakguard::take_snapshot().statistics("traceback")) (void)stat.str();
      snapshots.fetch_add(1);
    }
  });
  loader.join();
  allocator.join();
  reader.join();
  EXPECT_EQ(loads.load(), 100);
  EXPECT_GE(snapshots.load(), 2);
  leakguard::stop();
}

}  // namespace
