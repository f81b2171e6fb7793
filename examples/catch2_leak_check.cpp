// A Catch2 suite checked by leakguard, as a team would write it: link leakguard::catch2_main (see
// CMakeLists.txt), include <leakguard/catch2.hpp>, and every run of every test case is checked.
//
//   "an order book" / "matches an order"       clean: passes
//   "an order book" / "cancels an order"       forgets to delete what it cancels: fails at the
//                                               allocating line, naming its section
//   "recent prices are cached"                 fills a cache that stays reachable: passes
//   "parsing stays within its budget"          a statement's peak memory, bounded
#include <leakguard/catch2.hpp>

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

}  // namespace

TEST_CASE("an order book") {
  OrderBook book;
  book.add(1, 10.5);
  SECTION("matches an order") { CHECK(book.match(1)); }
  SECTION("cancels an order") { book.cancel(1); }
}

TEST_CASE("recent prices are cached") {
  recent_prices()[7] = 99.5;
  CHECK(recent_prices().size() == 1u);
}

TEST_CASE("parsing stays within its budget") {
  CHECK_MEMORY_WITHIN("1 MiB", {
    std::vector<std::unique_ptr<Order>> parsed;
    for (int i = 0; i < 1000; ++i) parsed.push_back(std::make_unique<Order>(Order{i, 1.0 * i, "c"}));
  });
}
