// glibc's own allocator entry points. leakguard's interposers forward to these, so the traced
// program gets exactly glibc's behaviour and the tracer never re-enters itself through malloc.
#pragma once
#include <cstddef>

extern "C" {
void* __libc_malloc(std::size_t size);
void __libc_free(void* ptr);
void* __libc_calloc(std::size_t n, std::size_t size);
void* __libc_realloc(void* ptr, std::size_t size);
void* __libc_memalign(std::size_t alignment, std::size_t size);
void* __libc_valloc(std::size_t size);
void* __libc_pvalloc(std::size_t size);
std::size_t malloc_usable_size(void* ptr) noexcept;
}
