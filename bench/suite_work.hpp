// What each test of the generated 1000-test suite does: a little of what a unit test does, a few
// strings, a vector and a small map, all freed by the end of the test.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace leakguard_bench {

inline std::uint64_t small_work(int seed) {
  std::vector<std::string> names;
  std::map<int, std::string> by_id;
  for (int i = 0; i < 8; ++i) {
    names.push_back("test-object-number-" + std::to_string(seed * 8 + i));  // past the SSO buffer
    by_id.emplace(i, names.back());
  }
  std::uint64_t sum = 0;
  for (const auto& [id, name] : by_id) sum += static_cast<std::uint64_t>(id) + name.size();
  return sum;
}

}  // namespace leakguard_bench
