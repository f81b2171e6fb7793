#include <gtest/gtest.h>

#include <map>
#include <random>

#include "core/side_table.hpp"

namespace leakguard::detail {
namespace {

TEST(SideTable, KeysByDomainAndAddressAgainstAModel) {
  SideTable table;
  std::map<std::pair<std::uint64_t, std::uintptr_t>, std::uint64_t> model;
  std::mt19937_64 rng(7);
  for (int step = 0; step < 50000; ++step) {
    const std::uint64_t domain = rng() % 4;
    const std::uintptr_t addr = (rng() % 2000) * 8;  // address 0 included: domains may use it
    if (rng() % 3 != 0) {
      const std::uint64_t size = rng() % 5000;
      SideEntry replaced{};
      const auto r = table.insert(domain, addr, size, 1, &replaced);
      ASSERT_NE(r, SideTable::Result::kNoMemory);
      const auto it = model.find({domain, addr});
      ASSERT_EQ(r == SideTable::Result::kReplaced, it != model.end());
      if (it != model.end()) {
        ASSERT_EQ(replaced.size, it->second);
      }
      model[{domain, addr}] = size;
    } else {
      SideEntry out{};
      const bool erased = table.erase(domain, addr, &out);
      ASSERT_EQ(erased, model.count({domain, addr}) != 0);
      if (erased) {
        ASSERT_EQ(out.size, (model[{domain, addr}]));
        model.erase({domain, addr});
      }
    }
    ASSERT_EQ(table.size(), model.size());
  }
  std::size_t seen = 0;
  table.for_each([&](const SideEntry& e) {
    ++seen;
    const auto it = model.find({e.domain, e.addr});
    ASSERT_NE(it, model.end());
    EXPECT_EQ(e.size, it->second);
  });
  EXPECT_EQ(seen, model.size());
  table.reset();
  EXPECT_EQ(table.size(), 0u);
}

}  // namespace
}  // namespace leakguard::detail
