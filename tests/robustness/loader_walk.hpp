// A thread of the program held inside dl_iterate_phdr, and so holding the loader's list lock,
// until release(): a fork meanwhile gives the child that lock held for good (glibc does not reset
// it), the state in which the child's start and allocations must not walk the list.
#pragma once
#include <link.h>

#include <atomic>
#include <thread>

namespace robust {

class ThreadInsideLoaderWalk {
 public:
  ThreadInsideLoaderWalk() {
    thread_ = std::thread([this] {
      dl_iterate_phdr(
          [](dl_phdr_info*, size_t, void* self) {
            auto* me = static_cast<ThreadInsideLoaderWalk*>(self);
            me->inside_.store(true);
            while (!me->released_.load()) {
            }
            return 1;
          },
          this);
    });
    while (!inside_.load()) {
    }
  }
  void release() {
    released_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  ~ThreadInsideLoaderWalk() { release(); }
  ThreadInsideLoaderWalk(const ThreadInsideLoaderWalk&) = delete;
  ThreadInsideLoaderWalk& operator=(const ThreadInsideLoaderWalk&) = delete;

 private:
  std::atomic<bool> inside_{false};
  std::atomic<bool> released_{false};
  std::thread thread_;
};

}  // namespace robust
