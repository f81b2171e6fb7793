// The first thing to try: trace a small workload and print where its memory came from, the way
// tracemalloc's documentation starts with "display the top 10".
//
//   build/examples/top_allocations
#include <leakguard/leakguard.hpp>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

struct Order {
  std::string customer;
  std::vector<double> prices;
};

std::vector<std::unique_ptr<Order>> load_orders(int n) {
  std::vector<std::unique_ptr<Order>> orders;
  for (int i = 0; i < n; ++i) {
    auto order = std::make_unique<Order>();
    order->customer = "customer number " + std::to_string(i) + " with a long enough name";
    order->prices.assign(32, 1.5 * i);
    orders.push_back(std::move(order));
  }
  return orders;
}

std::map<std::string, int> index_customers(const std::vector<std::unique_ptr<Order>>& orders) {
  std::map<std::string, int> index;
  for (std::size_t i = 0; i < orders.size(); ++i) index[orders[i]->customer] = static_cast<int>(i);
  return index;
}

}  // namespace

int main() {
  leakguard::start();  // kDefaultTracebackLimit frames per allocation

  auto orders = load_orders(1000);
  auto index = index_customers(orders);
  char* scratch = static_cast<char*>(std::malloc(64 * 1024));

  const auto [current, peak] = leakguard::get_traced_memory();
  const leakguard::Snapshot snapshot = leakguard::take_snapshot();
  std::fprintf(stderr, "traced: current=%zu B, peak=%zu B, tracer itself: %zu B\n", current, peak,
               leakguard::get_tracer_memory());
  std::fprintf(stderr, "Top 5 lines\n");
  const auto stats = snapshot.statistics(leakguard::KeyType::kLineno);
  for (std::size_t i = 0; i < stats.size() && i < 5; ++i) {
    const leakguard::Frame& frame = stats[i].traceback[0];
    std::fprintf(stderr, "#%zu: %s\n", i + 1, stats[i].str().c_str());
    const std::string line = leakguard::source_line(frame.filename, frame.lineno);
    if (!line.empty()) std::fprintf(stderr, "    %s\n", line.c_str());
  }
  std::fprintf(stderr, "\nLargest site, whole traceback (most recent call first):\n");
  const auto by_traceback = snapshot.statistics(leakguard::KeyType::kTraceback);
  if (!by_traceback.empty()) {
    for (const auto& line : by_traceback[0].traceback.format(8, /*most_recent_first=*/true)) {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
  }
  std::free(scratch);
  leakguard::stop();
  return 0;
}
