// PtrTable against a std::unordered_map model: every insert, replace, erase and growth step of a
// long random sequence must leave the same contents.
#include <gtest/gtest.h>

#include <random>
#include <vector>
#include <unordered_map>

#include "core/block_store.hpp"
#include "core/ptr_table.hpp"
#include "core/raw_memory.hpp"

namespace leakguard::detail {
namespace {

std::unordered_map<std::uint64_t, std::uint64_t> contents(const PtrTable& t) {
  std::unordered_map<std::uint64_t, std::uint64_t> out;
  t.for_each([&](const BlockEntry& e) { out.emplace(e.key & kAddrMask, e.meta); });
  return out;
}

TEST(PtrTable, MatchesAModelThroughGrowthAndBackwardShiftDeletes) {
  PtrTable table;
  std::unordered_map<std::uint64_t, std::uint64_t> model;
  std::mt19937_64 rng(42);
  // Few distinct keys so inserts collide with existing entries and deletes hit clusters.
  std::uniform_int_distribution<std::uint64_t> key(1, 5000);
  for (int step = 0; step < 200000; ++step) {
    const std::uint64_t k = key(rng);
    if (rng() % 3 != 0) {
      const std::uint64_t meta = make_meta(rng() % 100000, static_cast<std::uint32_t>(step % 1000));
      BlockEntry replaced{};
      const auto r = table.insert(k, 0, meta, &replaced);
      ASSERT_NE(r, PtrTable::InsertResult::kNoMemory);
      const bool existed = model.count(k) != 0;
      ASSERT_EQ(r == PtrTable::InsertResult::kReplaced, existed) << "step " << step;
      if (existed) {
        ASSERT_EQ(replaced.meta, model[k]);
      }
      model[k] = meta;
    } else {
      BlockEntry out{};
      const bool erased = table.erase(k, &out);
      ASSERT_EQ(erased, model.count(k) != 0) << "step " << step;
      if (erased) {
        ASSERT_EQ(out.meta, model[k]);
        model.erase(k);
      }
    }
    ASSERT_EQ(table.size(), model.size());
  }
  EXPECT_EQ(contents(table), model);
  for (const auto& [k, meta] : model) {
    const BlockEntry* e = table.find(k);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->meta, meta);
  }
  table.reset();
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.find(1), nullptr);
}

TEST(PtrTable, LoadStaysAtMostThreeQuartersAndMemoryPerBlockIsBounded) {
  PtrTable table;
  BlockEntry ignored{};
  for (std::uint64_t k = 1; k <= 1000000; ++k) {
    ASSERT_EQ(table.insert(k * 7919, 0, make_meta(16, 1), &ignored), PtrTable::InsertResult::kInserted);
    ASSERT_LE(table.size() * 4, table.capacity() * 3);
  }
  // 16-byte entries at a load of at least 1/2 after a growth step.
  EXPECT_LE(table.memory_bytes(), table.size() * 32);
}

// Every process fills the main thread's table with its static initialisation's blocks before main:
// the first thousands of blocks must cost few resizes; past 64 KiB of slots the fine steps hold
// the memory to at most 32 bytes a block at every size.
TEST(PtrTable, ASmallTableGrowsInFewStepsALargeOneInFineOnes) {
  PtrTable table;
  BlockEntry ignored{};
  std::vector<std::size_t> capacities;
  for (std::uint64_t k = 1; k <= 200000; ++k) {
    ASSERT_EQ(table.insert(k * 7919, 0, make_meta(16, 1), &ignored), PtrTable::InsertResult::kInserted);
    if (capacities.empty() || capacities.back() != table.capacity()) capacities.push_back(table.capacity());
    if (table.capacity() > PtrSegment::kQuickGrowthSlots) {
      ASSERT_LE(table.memory_bytes(), table.size() * 32) << table.size() << " blocks";
    }
    if (k == 6000) {
      EXPECT_EQ(capacities, (std::vector<std::size_t>{64, 256, 1024, 4096, 6144, 8192}));
    }
  }
}

// Heap-like keys (akey = address / 16): runs of neighbours with gaps, as glibc hands them out,
// enough of them that the table splits into segments, with random frees and reuse.
TEST(PtrTable, SplitIntoSegmentsItStillMatchesAModelAndRepairs) {
  PtrTable table;
  std::unordered_map<std::uint64_t, std::uint64_t> model;
  std::vector<std::uint64_t> live;
  std::mt19937_64 rng(7);
  std::uint64_t next = 0x55550000000ull >> 4;
  for (int step = 0; step < 600000; ++step) {
    if (live.empty() || rng() % 3 != 0) {
      next += 2 + rng() % 8;  // 32 to 144 bytes on
      if (rng() % 64 == 0) next += rng() % 100000;
      const std::uint64_t meta = make_meta(rng() % 1000, static_cast<std::uint32_t>(step % 100));
      BlockEntry replaced{};
      ASSERT_EQ(table.insert(next, step % 5, meta, &replaced), PtrTable::InsertResult::kInserted);
      model[next] = meta;
      live.push_back(next);
    } else {
      const std::size_t at = rng() % live.size();
      const std::uint64_t k = live[at];
      live[at] = live.back();
      live.pop_back();
      BlockEntry out{};
      ASSERT_TRUE(table.erase(k, &out)) << "step " << step;
      ASSERT_EQ(out.meta, model[k]);
      model.erase(k);
    }
    ASSERT_EQ(table.size(), model.size());
  }
  ASSERT_GT(table.size(), PtrTable::kSplitSlots);  // it did split
  EXPECT_LE(table.size() * 4, table.capacity() * 3);
  EXPECT_LE(table.memory_bytes(), table.size() * 32);
  EXPECT_EQ(contents(table), model);
  std::uint64_t bytes = 0;
  for (const auto& [k, meta] : model) {
    ASSERT_NE(table.find(k), nullptr);
    EXPECT_EQ(table.find(k)->meta, meta);
    bytes += meta_size(meta);
  }
  EXPECT_EQ(table.repair(), bytes);
  EXPECT_EQ(contents(table), model);
}

// Blocks side by side in memory land side by side in the table: a run of allocations touches a
// few cache lines of it, not one line each.
TEST(PtrTable, NeighbouringBlocksShareTableLines) {
  PtrTable table;
  BlockEntry ignored{};
  for (std::uint64_t k = 1; k <= 200000; ++k) table.insert(k * 1000003, 0, make_meta(16, 1), &ignored);
  const std::uint64_t region = (0x7f0000123400ull >> 4) & ~std::uint64_t{31};  // one 512-byte region
  for (std::uint64_t i = 0; i < 8; ++i) table.insert(region + 4 * i, 0, make_meta(64, 1), &ignored);
  const BlockEntry* first = table.find(region);
  std::size_t near = 0;
  for (std::uint64_t i = 0; i < 8; ++i) {
    const BlockEntry* e = table.find(region + 4 * i);
    ASSERT_NE(e, nullptr);
    const std::ptrdiff_t d = e - first;
    near += d >= -64 && d <= 64;
  }
  EXPECT_GE(near, 7u);  // one may sit across the table's wrap-around
}

TEST(PtrTable, TagIsPreservedAndRepairDropsDuplicates) {
  PtrTable table;
  BlockEntry ignored{};
  ASSERT_EQ(table.insert(10, 5, make_meta(100, 3), &ignored), PtrTable::InsertResult::kInserted);
  ASSERT_EQ(table.insert(11, 0, make_meta(50, 4), &ignored), PtrTable::InsertResult::kInserted);
  EXPECT_EQ(key_tag(table.find(10)->key), 5u);
  EXPECT_EQ(table.repair(), 150u);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(meta_stack(table.find(11)->meta), 4u);
}

TEST(PtrTable, InsertReportsNoMemoryWhenTheFirstTableCannotBeMapped) {
  PtrTable table;
  BlockEntry ignored{};
  raw_inject_failures(1);
  EXPECT_EQ(table.insert(1, 0, make_meta(8, 1), &ignored), PtrTable::InsertResult::kNoMemory);
  EXPECT_EQ(table.insert(1, 0, make_meta(8, 1), &ignored), PtrTable::InsertResult::kInserted);
}

TEST(BlockStore, NurseryAndTableTogetherMatchAModel) {
  BlockStore store;
  std::unordered_map<std::uint64_t, std::uint64_t> model;
  std::mt19937_64 rng(9);
  std::vector<std::uint64_t> live;
  std::uint64_t next_key = 1;
  for (int step = 0; step < 100000; ++step) {
    // Mostly frees of the newest blocks (as programs do), sometimes of old ones.
    if (live.empty() || rng() % 2 == 0) {
      const std::uint64_t k = next_key++;
      const std::uint64_t meta = make_meta(rng() % 1000, 7);
      const auto outcome = store.insert(k, meta);
      ASSERT_FALSE(outcome.dropped) << "step " << step;
      model[k] = meta;
      live.push_back(k);
    } else {
      const std::size_t at = rng() % 4 == 0 ? rng() % live.size() : live.size() - 1;
      const std::uint64_t k = live[at];
      live[at] = live.back();
      live.pop_back();
      BlockEntry out{};
      ASSERT_TRUE(store.erase(k, &out)) << "step " << step;
      ASSERT_EQ(out.meta, model[k]);
      model.erase(k);
      ASSERT_FALSE(store.erase(k, &out));
    }
    ASSERT_EQ(store.size(), model.size());
  }
  std::size_t seen = 0;
  store.for_each([&](const BlockEntry& e) {
    ++seen;
    ASSERT_EQ(model.at(e.key & kAddrMask), e.meta);
  });
  EXPECT_EQ(seen, model.size());
  for (const auto& [k, meta] : model) {
    ASSERT_NE(store.find(k), nullptr);
    EXPECT_EQ(store.find(k)->meta, meta);
  }
}

TEST(BlockStore, AStaleRecordOfTheSameAddressIsReplacedAndReported) {
  BlockStore store;
  store.insert(5, make_meta(100, 1));  // its free was never seen
  for (std::uint64_t k = 10; k < 310; ++k) {  // the stale record reaches the table
    EXPECT_FALSE(store.insert(k, make_meta(1, 1)).dropped);
  }
  EXPECT_FALSE(store.insert(5, make_meta(30, 2)).dropped);  // the address comes back
  EXPECT_EQ(meta_size(store.find(5)->meta), 30u) << "the newest record is found first";
  int drops = 0;
  for (std::uint64_t k = 310; k < 610; ++k) {  // ... until the new record reaches the table too
    const auto outcome = store.insert(k, make_meta(1, 1));
    if (outcome.dropped) {
      ++drops;
      EXPECT_FALSE(outcome.lost);
      EXPECT_EQ(outcome.dropped_bytes, 100u);  // the stale record's size stops counting
    }
  }
  EXPECT_EQ(drops, 1);
  EXPECT_EQ(meta_size(store.find(5)->meta), 30u);
  EXPECT_EQ(store.size(), 601u);
  // While the new record is still young, the address's set takes the next one in its place.
  store.insert(7, make_meta(1, 1));
  const auto again = store.insert(7, make_meta(2, 1));
  EXPECT_TRUE(again.dropped);
  EXPECT_EQ(again.dropped_bytes, 1u);
  EXPECT_EQ(meta_size(store.find(7)->meta), 2u);
}

// A test's blocks, a loop body's: up to two for every set live at once, and freed before more
// come. They must cost no table work at all.
TEST(BlockStore, BlocksThatDieYoungNeverReachTheTable) {
  BlockStore store;
  const std::uint64_t base = 0x55550000000ull >> 4;  // a 32-granule run starts here
  for (std::uint64_t k = 0; k < 2 * BlockStore::kSets; ++k) store.insert(base + k, make_meta(48, 1));
  EXPECT_EQ(store.size(), 2 * BlockStore::kSets);
  EXPECT_EQ(store.memory_bytes(), 0u) << "the table was never made";
  BlockEntry out{};
  for (std::uint64_t k = 0; k < 2 * BlockStore::kSets; ++k) ASSERT_TRUE(store.erase(base + k, &out));
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.memory_bytes(), 0u);
  // Past two a set, the oldest of the set moves on to the queue, and to the table once kQueue
  // more have left after it.
  const std::uint64_t queued = 2 * BlockStore::kSets + BlockStore::kQueue;
  for (std::uint64_t k = 0; k < queued; ++k) store.insert(base + k, make_meta(48, 1));
  EXPECT_EQ(store.memory_bytes(), 0u) << "the queue holds every block that left its set";
  store.insert(base + queued, make_meta(48, 1));
  EXPECT_GT(store.memory_bytes(), 0u);
  EXPECT_EQ(store.size(), queued + 1);
  for (std::uint64_t k = 0; k <= queued; ++k) {
    ASSERT_TRUE(store.erase(base + k, &out));
    EXPECT_EQ(key_addr(out.key), (base + k) << 4);
  }
  EXPECT_EQ(store.size(), 0u);
}

TEST(BlockStore, RepairKeepsEveryEntryOnce) {
  BlockStore store;
  for (std::uint64_t k = 1; k <= 300; ++k) store.insert(k, make_meta(10, 1));  // the table holds most
  EXPECT_EQ(store.repair(), 3000u);
  EXPECT_EQ(store.size(), 300u);
  std::size_t seen = 0;
  store.for_each([&](const BlockEntry&) { ++seen; });
  EXPECT_EQ(seen, 300u);
}

TEST(BlockStore, CountsTheBlocksOfTheCurrentWindow) {
  BlockStore store;
  store.insert(1, make_meta(10, 1));  // before any window
  store.begin_window(5, false);
  for (std::uint64_t k = 10; k < 210; ++k) store.insert(k, make_meta(10, 1));  // most reach the table
  EXPECT_EQ(store.window_blocks(), 200);
  store.insert(5000, make_meta(10, 1), 3);  // put back with its own, older window
  EXPECT_EQ(store.window_blocks(), 200);
  BlockEntry out{};
  ASSERT_TRUE(store.erase(10, &out));  // one that went to the table
  EXPECT_EQ(key_tag(out.key), 5u);
  ASSERT_TRUE(store.erase(209, &out));  // one still in the nursery
  ASSERT_TRUE(store.erase(1, &out));    // not of the window
  EXPECT_EQ(key_tag(out.key), 0u);
  EXPECT_EQ(store.window_blocks(), 198);
  EXPECT_EQ(store.repair(), 199u * 10u);  // recounted from the entries
  EXPECT_EQ(store.window_blocks(), 198);
  store.begin_window(6, false);
  EXPECT_EQ(store.window_blocks(), 0);
  store.insert(50000, make_meta(1, 1));
  EXPECT_EQ(store.window_blocks(), 1);
  store.begin_window(1, /*clear_tags=*/true);  // the ids wrapped: no old block may look new
  std::size_t tagged = 0;
  store.for_each([&](const BlockEntry& e) { tagged += key_tag(e.key) != 0; });
  EXPECT_EQ(tagged, 0u);
}

TEST(BlockEntry, AddressEncodingRoundTrips) {
  const std::uintptr_t p = 0x7ffd12345670;
  ASSERT_TRUE(addr_encodable(p));
  EXPECT_EQ(key_addr(make_key(addr_key(p), 0xABCDE)), p);
  EXPECT_EQ(key_tag(make_key(addr_key(p), 0xABCDE)), 0xABCDEu);
  EXPECT_FALSE(addr_encodable(p + 8));                       // not 16-byte aligned
  EXPECT_FALSE(addr_encodable(std::uintptr_t{1} << 48));     // above 2^48
  EXPECT_EQ(meta_size(make_meta(kMaxInlineSize, kMaxStackId)), kMaxInlineSize);
  EXPECT_EQ(meta_stack(make_meta(kMaxInlineSize, kMaxStackId)), kMaxStackId);
}

}  // namespace
}  // namespace leakguard::detail
