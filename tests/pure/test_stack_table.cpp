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

// A stack record as intern_stack() lays it out, for the cache's own tests.
struct Record {
  explicit Record(std::vector<std::uintptr_t> frames, std::uint32_t id)
      : storage((sizeof(StackRecord) + frames.size() * sizeof(std::uintptr_t)) / sizeof(std::uintptr_t) + 1) {
    auto* r = reinterpret_cast<StackRecord*>(storage.data());
    r->hash = 0;  // the table's finished hash; the cache goes by the running one
    r->id = id;
    r->nframes = static_cast<std::uint32_t>(frames.size());
    for (std::size_t i = 0; i < frames.size(); ++i) r->frames[i] = frames[i];
  }
  const StackRecord* get() const { return reinterpret_cast<const StackRecord*>(storage.data()); }
  const std::uintptr_t* frames() const { return get()->frames; }
  std::uint32_t n() const { return get()->nframes; }
  std::uint64_t hash() const { return running_hash(frames(), n()); }
  std::vector<std::uintptr_t> storage;
};

TEST(RecentStacks, FindsOnlyTheExactStackItRemembered) {
  RecentStacks recent;
  const Record a({0x1000, 0x2000, 0x3000}, 77);
  const std::uint64_t h = a.hash();
  EXPECT_EQ(recent.find(a.frames(), 3, h), 0u);
  recent.remember(h, a.get());
  EXPECT_EQ(recent.find(a.frames(), 3, h), 77u);
  EXPECT_EQ(recent.find(a.frames(), 2, h), 0u);  // same frames, other length
  const std::uintptr_t other[3] = {0x1000, 0x2000, 0x3010};
  EXPECT_EQ(recent.find(other, 3, h), 0u);  // same hash given, other frames
}

// Stacks of one set: the two most recently remembered are both found (a loop alternating between
// two call sites never misses); a third replaces the older, which is then a miss, never a wrong id.
TEST(RecentStacks, KeepsTheTwoLatestStacksOfASet) {
  RecentStacks recent;
  std::vector<Record> records;
  for (std::uint32_t i = 0; i < 3; ++i) records.emplace_back(std::vector<std::uintptr_t>{0x5000, 0x6000 + i * 16}, 10 + i);
  const std::uint64_t h = 0x1234;  // one hash for all three: one set
  recent.remember(h, records[0].get());
  recent.remember(h, records[1].get());
  EXPECT_EQ(recent.find(records[0].frames(), 2, h), 10u);
  EXPECT_EQ(recent.find(records[1].frames(), 2, h), 11u);
  recent.remember(h, records[2].get());
  EXPECT_EQ(recent.find(records[0].frames(), 2, h), 0u);
  EXPECT_EQ(recent.find(records[1].frames(), 2, h), 11u);
  EXPECT_EQ(recent.find(records[2].frames(), 2, h), 12u);
}

// Any length is kept (an entry names the record, not a copy of its frames), and a failed intern
// (no record) leaves nothing behind.
TEST(RecentStacks, KeepsLongStacksButNotFailedInterns) {
  RecentStacks recent;
  std::vector<std::uintptr_t> frames(128);
  for (std::size_t i = 0; i < frames.size(); ++i) frames[i] = 0x4000 + i * 16;
  const Record longest(frames, 5);
  recent.remember(longest.hash(), longest.get());
  EXPECT_EQ(recent.find(longest.frames(), 128, longest.hash()), 5u);
  frames[127] += 8;  // the last frame differs
  EXPECT_EQ(recent.find(frames.data(), 128, longest.hash()), 0u);
  const std::uint64_t h2 = running_hash(frames.data(), 2);
  recent.remember(h2, nullptr);  // the table was full
  EXPECT_EQ(recent.find(frames.data(), 2, h2), 0u);
}

}  // namespace
}  // namespace leakguard::detail
