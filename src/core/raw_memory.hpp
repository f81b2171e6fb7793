// Memory for the tracer's own tables. It comes from mmap, never from malloc, so that the tracer
// cannot recurse into itself and its tables are never mistaken for program data.
#pragma once
#include <cstddef>

namespace leakguard::detail {

// Zero-filled, page-granular. Returns nullptr when the system refuses (errno is preserved).
void* raw_alloc(std::size_t bytes) noexcept;
void raw_free(void* ptr, std::size_t bytes) noexcept;
// The same, with every page mapped before it returns: for memory about to be written whole (a
// table being rebuilt into, an arena's next chunk). One system call instead of a page fault per
// page; in a microVM a fault costs more than the writes to its page (a growing stack table's
// faults were the largest part of interning in a test suite).
void* raw_alloc_prefaulted(std::size_t bytes) noexcept;
// The same, starting on a 2 MiB boundary and advised to be backed by transparent huge pages (a
// large table touched at random then costs few TLB misses). Freed with raw_free.
void* raw_alloc_huge(std::size_t bytes) noexcept;
// Bytes currently mapped by raw_alloc, rounded to pages: the tracer's own footprint.
std::size_t raw_bytes_in_use() noexcept;

// Test hook: the next `count` raw_alloc calls fail as if mmap had refused.
void raw_inject_failures(int count) noexcept;

}  // namespace leakguard::detail
