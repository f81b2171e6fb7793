// Interned call stacks: one id per distinct sequence of return addresses. Lookups are lock-free
// (allocating threads only read); a new stack is added under a lock. Records are never freed, so
// an id stays valid for the life of the process and readers need no synchronisation.
#pragma once
#include <cstddef>
#include <cstdint>

namespace leakguard::detail {

struct StackRecord {
  std::uint64_t hash;
  std::uint32_t id;
  std::uint32_t nframes;
  std::uintptr_t frames[1];  // nframes return addresses, most recent call first
};

// The id of this stack, adding it on first sight. running_hash is capture_stack()'s. Id 0 means
// "no stack": the table is full or out of memory.
std::uint32_t intern_stack(const std::uintptr_t* frames, std::uint32_t nframes,
                           std::uint64_t running_hash) noexcept;
const StackRecord* stack_record(std::uint32_t id) noexcept;
std::size_t stack_count() noexcept;
std::size_t stack_table_bytes() noexcept;

void stack_table_fork_prepare() noexcept;
void stack_table_fork_parent() noexcept;
void stack_table_fork_child() noexcept;

}  // namespace leakguard::detail
