// The interned stack table and the per-thread cache of recent stacks in front of it: one id per
// distinct stack, the same id on every lookup, through the index's growth (placed from the slots'
// hash bits, and past 2^20 slots from the records).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "core/recent_stacks.hpp"
#include "core/stack_table.hpp"

namespace leakguard::detail {
namespace {

// capture_stack()'s running hash.
std::uint64_t running_hash(const std::uintptr_t* frames, std::uint32_t n) {
  std::uint64_t h = frames[0];
  for (std::uint32_t i = 1; i < n; ++i) h = ((h << 5) | (h >> 59)) ^ frames[i];
  return h;
}

struct Stack {
  std::uintptr_t frames[3];
  std::uint32_t id = 0;
};

Stack make_stack(std::uint64_t i) {
  Stack s;
  s.frames[0] = 0x401000 + (i % 97) * 16;
  s.frames[1] = 0x7f0000000000 + i * 48;
  s.frames[2] = 0x402000 + (i / 97) * 8;
  return s;
}

std::uint32_t intern(const Stack& s) { return intern_stack(s.frames, 3, running_hash(s.frames, 3)); }

TEST(StackTable, OneIdPerStackThroughEveryGrowthOfTheIndex) {
  // 600k stacks take the index past 2^20 slots, where growth reads the records' hashes.
  constexpr std::uint64_t kStacks = 600000;
  const std::size_t before = stack_count();
  std::vector<Stack> stacks;
  stacks.reserve(kStacks);
  for (std::uint64_t i = 0; i < kStacks; ++i) {
    stacks.push_back(make_stack(i));
    stacks.back().id = intern(stacks.back());
    ASSERT_NE(stacks.back().id, 0u) << i;
  }
  EXPECT_EQ(stack_count(), before + kStacks);
  for (std::uint64_t i = 0; i < kStacks; ++i) {
    ASSERT_EQ(intern(stacks[i]), stacks[i].id) << i;  // found again, not added
    const StackRecord* r = stack_record(stacks[i].id);
    ASSERT_NE(r, nullptr);
    ASSERT_EQ(r->nframes, 3u);
    for (int k = 0; k < 3; ++k) ASSERT_EQ(r->frames[k], stacks[i].frames[k]) << i;
  }
  EXPECT_EQ(stack_count(), before + kStacks);
}

TEST(StackTable, StacksWithTheSameHashKeepTheirOwnIds) {
  // Frames chosen so that the rotate-xor running hash is equal: {a, b} and {a ^ x, b ^ (x << 5)}.
  const std::uintptr_t a[2] = {0x500000, 0x600000};
  const std::uintptr_t x = 0x10;
  const std::uintptr_t b[2] = {a[0] ^ x, a[1] ^ (x << 5)};
  ASSERT_EQ(running_hash(a, 2), running_hash(b, 2));
  const std::uint32_t ia = intern_stack(a, 2, running_hash(a, 2));
  const std::uint32_t ib = intern_stack(b, 2, running_hash(b, 2));
  EXPECT_NE(ia, ib);
  EXPECT_EQ(intern_stack(a, 2, running_hash(a, 2)), ia);
  EXPECT_EQ(intern_stack(b, 2, running_hash(b, 2)), ib);
}

TEST(RecentStacks, FindsOnlyTheExactStackItRemembered) {
  RecentStacks recent;
  const std::uintptr_t a[3] = {0x1000, 0x2000, 0x3000};
  const std::uint64_t h = running_hash(a, 3);
  EXPECT_EQ(recent.find(a, 3, h), 0u);
  recent.remember(a, 3, h, 77);
  EXPECT_EQ(recent.find(a, 3, h), 77u);
  EXPECT_EQ(recent.find(a, 2, h), 0u);  // same frames, other length
  const std::uintptr_t other[3] = {0x1000, 0x2000, 0x3010};
  EXPECT_EQ(recent.find(other, 3, h), 0u);  // same hash given, other frames
  // A stack with the same slot replaces the entry; the first is then a miss, never a wrong id.
  recent.remember(other, 3, h, 78);
  EXPECT_EQ(recent.find(other, 3, h), 78u);
  EXPECT_EQ(recent.find(a, 3, h), 0u);
}

TEST(RecentStacks, KeepsNeitherLongStacksNorFailedInterns) {
  RecentStacks recent;
  std::uintptr_t longer[RecentStacks::kFrames + 1];
  for (std::uint32_t i = 0; i <= RecentStacks::kFrames; ++i) longer[i] = 0x4000 + i * 16;
  const std::uint64_t h = running_hash(longer, RecentStacks::kFrames + 1);
  recent.remember(longer, RecentStacks::kFrames + 1, h, 5);
  EXPECT_EQ(recent.find(longer, RecentStacks::kFrames + 1, h), 0u);
  const std::uint64_t h16 = running_hash(longer, RecentStacks::kFrames);
  recent.remember(longer, RecentStacks::kFrames, h16, 6);
  EXPECT_EQ(recent.find(longer, RecentStacks::kFrames, h16), 6u);
  recent.remember(longer, 2, running_hash(longer, 2), 0);  // id 0: the table was full
  EXPECT_EQ(recent.find(longer, 2, running_hash(longer, 2)), 0u);
}

}  // namespace
}  // namespace leakguard::detail
