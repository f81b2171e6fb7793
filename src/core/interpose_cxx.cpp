// Every replaceable global operator new and delete. Allocation goes straight to glibc (not through
// malloc) so each call is recorded once, with the caller of operator new as its first frame; the
// new-handler loop and exceptions are those the standard requires.
#include <cstdint>
#include <new>

#include "interpose.hpp"

#define LG_INTERPOSE __attribute__((visibility("default")))

using leakguard::detail::release;
using leakguard::detail::traced;

namespace {

LG_ALWAYS_INLINE void* allocate(std::size_t size, std::size_t alignment) {
  const std::size_t request = size != 0 ? size : 1;
  if (alignment <= alignof(std::max_align_t)) {
    if (void* p = leakguard::detail::own_block(request)) return p;
  }
  for (;;) {
    void* p = alignment <= alignof(std::max_align_t) ? __libc_malloc(request)
                                                      : __libc_memalign(alignment, request);
    if (LG_LIKELY(p != nullptr)) return p;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}

LG_ALWAYS_INLINE void* allocate_nothrow(std::size_t size, std::size_t alignment) noexcept {
  try {
    return allocate(size, alignment);
  } catch (...) {
    return nullptr;
  }
}

std::size_t align_of(std::align_val_t a) { return static_cast<std::size_t>(a); }

}  // namespace

LG_INTERPOSE void* operator new(std::size_t size) {
  return traced(allocate(size, 0), size, LG_CURRENT_FRAME());
}
LG_INTERPOSE void* operator new[](std::size_t size) {
  return traced(allocate(size, 0), size, LG_CURRENT_FRAME());
}
LG_INTERPOSE void* operator new(std::size_t size, std::align_val_t al) {
  return traced(allocate(size, align_of(al)), size, LG_CURRENT_FRAME());
}
LG_INTERPOSE void* operator new[](std::size_t size, std::align_val_t al) {
  return traced(allocate(size, align_of(al)), size, LG_CURRENT_FRAME());
}
LG_INTERPOSE void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return traced(allocate_nothrow(size, 0), size, LG_CURRENT_FRAME());
}
LG_INTERPOSE void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return traced(allocate_nothrow(size, 0), size, LG_CURRENT_FRAME());
}
LG_INTERPOSE void* operator new(std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
  return traced(allocate_nothrow(size, align_of(al)), size, LG_CURRENT_FRAME());
}
LG_INTERPOSE void* operator new[](std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
  return traced(allocate_nothrow(size, align_of(al)), size, LG_CURRENT_FRAME());
}

LG_INTERPOSE void operator delete(void* p) noexcept { release(p); }
LG_INTERPOSE void operator delete[](void* p) noexcept { release(p); }
LG_INTERPOSE void operator delete(void* p, std::size_t) noexcept { release(p); }
LG_INTERPOSE void operator delete[](void* p, std::size_t) noexcept { release(p); }
LG_INTERPOSE void operator delete(void* p, std::align_val_t) noexcept { release(p); }
LG_INTERPOSE void operator delete[](void* p, std::align_val_t) noexcept { release(p); }
LG_INTERPOSE void operator delete(void* p, std::size_t, std::align_val_t) noexcept { release(p); }
LG_INTERPOSE void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { release(p); }
LG_INTERPOSE void operator delete(void* p, const std::nothrow_t&) noexcept { release(p); }
LG_INTERPOSE void operator delete[](void* p, const std::nothrow_t&) noexcept { release(p); }
LG_INTERPOSE void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { release(p); }
LG_INTERPOSE void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { release(p); }
