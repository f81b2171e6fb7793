#include "raw_memory.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

namespace leakguard::detail {
namespace {
std::atomic<std::size_t> g_raw_bytes{0};
std::atomic<int> g_injected_failures{0};

std::size_t round_to_pages(std::size_t bytes) {
  static const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return (bytes + page - 1) / page * page;
}

void* map_anonymous(std::size_t bytes, int extra_flags) noexcept {
  if (g_injected_failures.load(std::memory_order_relaxed) > 0 &&
      g_injected_failures.fetch_sub(1, std::memory_order_relaxed) > 0) {
    return nullptr;
  }
  const int saved_errno = errno;
  const std::size_t size = round_to_pages(bytes);
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);
  errno = saved_errno;
  if (p == MAP_FAILED) return nullptr;
  g_raw_bytes.fetch_add(size, std::memory_order_relaxed);
  return p;
}
}  // namespace

void* raw_alloc(std::size_t bytes) noexcept { return map_anonymous(bytes, 0); }
// MAP_POPULATE is best effort: pages it could not map fault in later, as with raw_alloc.
void* raw_alloc_prefaulted(std::size_t bytes) noexcept { return map_anonymous(bytes, MAP_POPULATE); }

void* raw_alloc_huge(std::size_t bytes) noexcept {
  constexpr std::size_t kHuge = std::size_t{2} << 20;
  if (g_injected_failures.load(std::memory_order_relaxed) > 0 &&
      g_injected_failures.fetch_sub(1, std::memory_order_relaxed) > 0) {
    return nullptr;
  }
  const int saved_errno = errno;
  const std::size_t size = round_to_pages(bytes);
  void* p = mmap(nullptr, size + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    errno = saved_errno;
    return nullptr;
  }
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t aligned = (at + kHuge - 1) & ~(kHuge - 1);
  if (aligned > at) munmap(p, aligned - at);
  const std::uintptr_t end = at + size + kHuge;
  if (end > aligned + size) munmap(reinterpret_cast<void*>(aligned + size), end - (aligned + size));
  madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);  // advice: the kernel may decline
  errno = saved_errno;
  g_raw_bytes.fetch_add(size, std::memory_order_relaxed);
  return reinterpret_cast<void*>(aligned);
}

void raw_free(void* ptr, std::size_t bytes) noexcept {
  if (ptr == nullptr) return;
  const int saved_errno = errno;
  const std::size_t size = round_to_pages(bytes);
  munmap(ptr, size);
  errno = saved_errno;
  g_raw_bytes.fetch_sub(size, std::memory_order_relaxed);
}

std::size_t raw_bytes_in_use() noexcept { return g_raw_bytes.load(std::memory_order_relaxed); }

void raw_inject_failures(int count) noexcept {
  g_injected_failures.store(count, std::memory_order_relaxed);
}

}  // namespace leakguard::detail
