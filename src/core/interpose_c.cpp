// The C allocation entry points. Each forwards to glibc's own implementation and records the
// result; nothing else changes, so errno, alignment and failure behaviour are glibc's.
#include <gnu/libc-version.h>
#include <malloc.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "interpose.hpp"

#define LG_INTERPOSE extern "C" __attribute__((visibility("default")))

using leakguard::detail::own_block;
using leakguard::detail::record_alloc;
using leakguard::detail::release;
using leakguard::detail::traced;
using leakguard::detail::tracing_enabled;

namespace {

// A block of leakguard's own heap stays there, wherever it is resized from (glibc's if full).
void* realloc_own(void* old, std::size_t size) noexcept {
  if (size == 0) {  // as glibc: the block is freed and null returned
    leakguard::detail::own_free(old);
    return nullptr;
  }
  if (void* p = leakguard::detail::own_realloc(old, size)) return p;
  void* p = __libc_malloc(size);
  if (p == nullptr) return nullptr;
  const std::size_t usable = leakguard::detail::own_usable_size(old);
  std::memcpy(p, old, usable < size ? usable : size);
  leakguard::detail::own_free(old);
  return p;
}

LG_ALWAYS_INLINE void* traced_realloc(void* old, std::size_t size, std::uintptr_t fp) {
  if (LG_UNLIKELY(leakguard::detail::in_own_heap(old))) return realloc_own(old, size);
  if (old == nullptr) {
    if (void* p = own_block(size)) return p;
  }
  if (!tracing_enabled()) return __libc_realloc(old, size);
  if (old == nullptr) return traced(__libc_realloc(nullptr, size), size, fp);
  const auto forgotten = leakguard::detail::forget_for_realloc(old);
  if (LG_UNLIKELY(forgotten.muted)) return leakguard::detail::realloc_while_muted(old, size);
  if (LG_UNLIKELY(forgotten.foreign)) {  // another thread's block: move it rather than stop the world
    if (size == 0) {  // as glibc: the block is freed and null returned
      release(old);
      return nullptr;
    }
    void* p = __libc_malloc(size);
    if (p == nullptr) return nullptr;  // errno is ENOMEM; the old block is untouched and still traced
    const std::size_t usable = malloc_usable_size(old);
    std::memcpy(p, old, usable < size ? usable : size);
    record_alloc(p, size, fp);
    release(old);
    return p;
  }
  void* p = __libc_realloc(old, size);
  if (p != nullptr) {
    record_alloc(p, size, fp);
  } else if (size != 0) {
    // The old block is untouched after a failed realloc; glibc frees it only for size 0.
    leakguard::detail::restore_after_failed_realloc(old, forgotten);
  }
  return p;
}

// glibc 2.38 made aligned_alloc reject alignments that are not powers of two; earlier versions
// behave as memalign. Match whichever glibc the program runs on.
bool aligned_alloc_validates() {
  static const int validates = [] {
    const char* v = gnu_get_libc_version();
    const int major = std::atoi(v);
    const char* dot = std::strchr(v, '.');
    const int minor = dot != nullptr ? std::atoi(dot + 1) : 0;
    return major > 2 || (major == 2 && minor >= 38);
  }();
  return validates != 0;
}

}  // namespace

LG_INTERPOSE void* malloc(std::size_t size) noexcept {
  if (void* p = own_block(size)) return p;
  return traced(__libc_malloc(size), size, LG_CURRENT_FRAME());
}

LG_INTERPOSE void free(void* ptr) noexcept { release(ptr); }

LG_INTERPOSE void* calloc(std::size_t n, std::size_t size) noexcept {
  if (LG_UNLIKELY(leakguard::detail::t_state.own != 0)) {
    if (void* p = leakguard::detail::own_calloc(n, size)) return p;
  }
  // On overflow glibc returns null with ENOMEM, so n * size is only used when it fits.
  return traced(__libc_calloc(n, size), n * size, LG_CURRENT_FRAME());
}

LG_INTERPOSE void* realloc(void* ptr, std::size_t size) noexcept {
  return traced_realloc(ptr, size, LG_CURRENT_FRAME());
}

LG_INTERPOSE void* reallocarray(void* ptr, std::size_t n, std::size_t size) noexcept {
  std::size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  return traced_realloc(ptr, bytes, LG_CURRENT_FRAME());
}

LG_INTERPOSE int posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept {
  if (alignment % sizeof(void*) != 0 || alignment == 0 ||
      ((alignment / sizeof(void*)) & (alignment / sizeof(void*) - 1)) != 0) {
    return EINVAL;
  }
  void* p = __libc_memalign(alignment, size);
  if (p == nullptr) return ENOMEM;
  *out = traced(p, size, LG_CURRENT_FRAME());
  return 0;
}

LG_INTERPOSE void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
  if (aligned_alloc_validates() && (alignment == 0 || (alignment & (alignment - 1)) != 0)) {
    errno = EINVAL;
    return nullptr;
  }
  return traced(__libc_memalign(alignment, size), size, LG_CURRENT_FRAME());
}

LG_INTERPOSE void* memalign(std::size_t alignment, std::size_t size) noexcept {
  return traced(__libc_memalign(alignment, size), size, LG_CURRENT_FRAME());
}

LG_INTERPOSE void* valloc(std::size_t size) noexcept {
  return traced(__libc_valloc(size), size, LG_CURRENT_FRAME());
}

LG_INTERPOSE void* pvalloc(std::size_t size) noexcept {
  return traced(__libc_pvalloc(size), size, LG_CURRENT_FRAME());
}
