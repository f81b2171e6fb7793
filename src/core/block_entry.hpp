// How one live heap block is recorded: 16 bytes, address and tag in one word, size and interned
// stack in the other. Keeping it to two words is what holds the tracer near 16-32 bytes per block.
#pragma once
#include <atomic>
#include <cstdint>

namespace leakguard::detail {

// glibc returns 16-byte aligned blocks below 2^48, so the address needs 44 bits. The 20 bits
// above it are a tag the analysis layer may use (window epochs, flags); the tracer preserves it.
constexpr int kAddrShift = 4;
constexpr int kAddrBits = 44;
constexpr std::uint64_t kAddrMask = (std::uint64_t{1} << kAddrBits) - 1;
constexpr int kTagBits = 64 - kAddrBits;
constexpr std::uint64_t kTagMask = (std::uint64_t{1} << kTagBits) - 1;

// Sizes up to 1 TiB and 16M distinct stacks fit the meta word; anything else goes to the side
// table (see side_table.hpp), so no block is ever dropped for its size.
constexpr int kSizeBits = 40;
constexpr std::uint64_t kMaxInlineSize = (std::uint64_t{1} << kSizeBits) - 1;
constexpr int kStackIdBits = 24;
constexpr std::uint32_t kMaxStackId = (std::uint32_t{1} << kStackIdBits) - 1;

inline bool addr_encodable(std::uintptr_t p) {
  return (p & ((std::uintptr_t{1} << kAddrShift) - 1)) == 0 && (p >> (kAddrShift + kAddrBits)) == 0;
}
inline std::uint64_t addr_key(std::uintptr_t p) { return p >> kAddrShift; }
inline std::uintptr_t key_addr(std::uint64_t key) {
  return static_cast<std::uintptr_t>((key & kAddrMask) << kAddrShift);
}
inline std::uint64_t key_tag(std::uint64_t key) { return key >> kAddrBits; }
inline std::uint64_t make_key(std::uint64_t akey, std::uint64_t tag) {
  return akey | (tag << kAddrBits);
}

inline std::uint64_t make_meta(std::uint64_t size, std::uint32_t stack_id) {
  return size | (std::uint64_t{stack_id} << kSizeBits);
}
inline std::uint64_t meta_size(std::uint64_t meta) { return meta & kMaxInlineSize; }
inline std::uint32_t meta_stack(std::uint64_t meta) {
  return static_cast<std::uint32_t>(meta >> kSizeBits);
}

struct BlockEntry {
  std::uint64_t key;   // 0 = empty slot
  std::uint64_t meta;
};

// Copies an entry out of a table for a caller that reads its words back at once (a free reads the
// size): as two 8-byte stores, which the compiler would otherwise merge into one 16-byte copy. A
// load of a vector store's upper half is not forwarded from the store buffer; it waits for the
// store to reach the cache (a third of free's time in the micro benchmark).
inline void take_entry(const BlockEntry& from, BlockEntry* out) noexcept {
  const std::uint64_t key = from.key, meta = from.meta;
  out->meta = meta;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  out->key = key;
}

}  // namespace leakguard::detail
