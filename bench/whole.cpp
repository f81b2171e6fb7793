// The whole-program benchmark: an allocation-heavy program of the kind a test suite runs, timed as
// a whole process (scripts/bench.sh runs it plain, traced, under heaptrack and valgrind, and built
// with LSan and ASan, and measures wall time and peak RSS from outside).
//
// N insertions (default 500,000) into a std::map<std::string, std::vector<int>> and N more into a
// std::unordered_map of the same, with 26-character keys (heap strings: past the small-string
// buffer), 1 to 8 push_backs per vector, and a temporary string every fourth insertion. All of it
// runs 20 frames below main, so a traced stack is as deep as a test's. With N = 500,000 the
// program makes about 6.6 million allocation calls and keeps about 1.9 million blocks live at its
// peak; both maps are destroyed before it exits.
//
// It prints one JSON object: N, the time spent in the work (ms), the allocation calls it made
// (counted only when built with LEAKGUARD_BENCH_COUNT) and a checksum.
//
// Built from this one source with every tool's compiler (g++ for plain and leakguard, clang for
// the sanitizers), with the same flags: -O2 -g -fno-omit-frame-pointer.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#ifdef LEAKGUARD_BENCH_COUNT
#include <atomic>
#include <new>
std::atomic<std::uint64_t> g_calls{0};
void* operator new(std::size_t n) {
  g_calls.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#endif

namespace {

constexpr int kDepth = 20;

// xorshift64*: the same keys on every run and with every compiler.
struct Rng {
  std::uint64_t s = 0x9E3779B97F4A7C15ull;
  std::uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
  }
};

std::string make_key(Rng& rng) {
  std::string key(26, 'a');
  std::uint64_t bits = rng.next();
  for (int i = 0; i < 26; ++i) {
    if (i == 13) bits = rng.next();
    key[static_cast<std::size_t>(i)] = static_cast<char>('a' + bits % 26);
    bits /= 26;
  }
  return key;
}

std::vector<int> make_values(Rng& rng) {
  std::vector<int> values;  // no reserve: it grows as a real one does
  const int count = 1 + static_cast<int>(rng.next() % 8);
  for (int i = 0; i < count; ++i) values.push_back(static_cast<int>(rng.next() & 0xffff));
  return values;
}

template <class Map>
__attribute__((noinline)) std::uint64_t fill(Map& map, long n, Rng& rng) {
  std::uint64_t sum = 0;
  for (long i = 0; i < n; ++i) {
    std::string key = make_key(rng);
    if (i % 4 == 0) {
      const std::string temporary = key + "/" + std::to_string(i);  // made and dropped
      sum += temporary.size();
    }
    auto& slot = map[std::move(key)];
    slot = make_values(rng);
    sum += slot.size();
  }
  return sum;
}

__attribute__((noinline)) std::uint64_t work(long n) {
  Rng rng;
  std::uint64_t sum = 0;
  {
    std::map<std::string, std::vector<int>> ordered;
    std::unordered_map<std::string, std::vector<int>> hashed;
    sum += fill(ordered, n, rng);
    sum += fill(hashed, n, rng);
    for (const auto& [key, values] : ordered) sum += static_cast<std::uint64_t>(key[0]) + values.back();
    for (const auto& [key, values] : hashed) sum += static_cast<std::uint64_t>(key[1]) + values.front();
  }  // both maps freed here
  return sum;
}

// Runs work() `depth` frames below the caller.
__attribute__((noinline)) std::uint64_t at_depth(int depth, long n) {
  std::uint64_t r = depth > 1 ? at_depth(depth - 1, n) : work(n);
  asm volatile("" : "+r"(r) : : "memory");  // not a tail call: every level keeps its frame
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 500000;
  const auto t0 = std::chrono::steady_clock::now();
  const std::uint64_t sum = at_depth(kDepth, n);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
#ifdef LEAKGUARD_BENCH_COUNT
  const unsigned long long calls = g_calls.load();
#else
  const unsigned long long calls = 0;
#endif
  std::printf("{\"n\": %ld, \"work_ms\": %.1f, \"new_calls\": %llu, \"checksum\": %llu}\n", n, ms, calls,
              static_cast<unsigned long long>(sum));
  return 0;
}
