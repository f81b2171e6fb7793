// A GoogleTest suite checked by leakguard, as a team would write it: link leakguard::gtest_main
// instead of GTest::gtest_main (see CMakeLists.txt) and every test is checked for leaks.
//
//   OrderBook.MatchesAnOrder          clean: passes
//   OrderBook.RemembersRecentPrices   fills a cache that stays reachable: passes (held, not lost)
//   OrderBook.CancelsAnOrder          forgets to delete what it cancels: fails at the allocating line
//   OrderBook.ParsesWithinBudget      a statement's peak memory, bounded with EXPECT_MEMORY_WITHIN
#include <gtest/gtest.h>
#include <leakguard/gtest.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

struct Order {
  int id;
  double price;
  std::string client;
};

class OrderBook {
 public:
  void add(int id, double price) { orders_[id] = new Order{id, price, "client-" + std::to_string(id)}; }
  // The bug: the order leaves the book but is never deleted.
  void cancel(int id) { orders_.erase(id); }
  bool match(int id) {
    auto it = orders_.find(id);
    if (it == orders_.end()) return false;
    delete it->second;
    orders_.erase(it);
    return true;
  }
  ~OrderBook() {
    for (auto& [id, order] : orders_) delete order;
  }

 private:
  std::map<int, Order*> orders_;
};

std::map<int, double>& recent_prices() {
  static auto* cache = new std::map<int, double>;  // a process-wide cache: reachable, never a leak
  return *cache;
}

TEST(OrderBook, MatchesAnOrder) {
  OrderBook book;
  book.add(1, 10.5);
  EXPECT_TRUE(book.match(1));
}

TEST(OrderBook, RemembersRecentPrices) {
  recent_prices()[7] = 99.5;
  EXPECT_EQ(recent_prices().size(), 1u);
}

TEST(OrderBook, CancelsAnOrder) {
  OrderBook book;
  book.add(2, 11.0);
  book.cancel(2);
}

TEST(OrderBook, ParsesWithinBudget) {
  EXPECT_MEMORY_WITHIN("1 MiB", {
    std::vector<std::unique_ptr<Order>> parsed;
    for (int i = 0; i < 1000; ++i) parsed.push_back(std::make_unique<Order>(Order{i, 1.0 * i, "c"}));
  });
}

}  // namespace
