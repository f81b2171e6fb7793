// The per-test rule shared by the framework plugins.
#include "leakguard/test_check.hpp"
#include "leakguard/test_checker.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "analysis/test_wishes.hpp"
#include "core/tracer.hpp"
#include "leakguard/suppressions.hpp"
#include "snapshot/attribution_rule.hpp"

namespace leakguard {
namespace {

CheckMode read_mode() {
  const char* value = std::getenv("LEAKGUARD_MODE");
  CheckMode mode = CheckMode::kFail;
  if (value == nullptr || *value == '\0' || parse_check_mode(value, &mode)) return mode;
  std::fprintf(stderr, "leakguard: LEAKGUARD_MODE='%s' is not a mode (expected off, report, fail or strict); using fail\n",
               value);
  return CheckMode::kFail;
}

// leakguard's own code: its namespace, its headers, and its sources (from this file's place in them).
AttributionRule leakguards_own() {
  AttributionRule own;
  own.system_namespaces = {"leakguard::"};
  const std::string here = __FILE__;  // .../src/analysis/test_check.cpp
  const std::size_t analysis_dir = here.rfind('/');
  const std::size_t src_dir = analysis_dir == std::string::npos ? std::string::npos : here.rfind('/', analysis_dir - 1);
  own.system_files = {"*/include/leakguard/*", src_dir == std::string::npos ? "*/src/analysis/*" : here.substr(0, src_dir) + "/*"};
  return own;
}

// The code whose blocks are never a test's: leakguard's, and the test framework's
// (declare_test_framework), as patterns.
std::mutex g_framework_mutex;
std::shared_ptr<const AttributionRule> g_framework;

std::shared_ptr<const AttributionRule> framework() {
  std::lock_guard<std::mutex> lock(g_framework_mutex);
  if (!g_framework) {
    detail::UntracedScope untraced;
    g_framework = std::make_shared<const AttributionRule>(leakguards_own());
  }
  return g_framework;
}

// A block the user's code asked for. Going outward from the allocation, past the C/C++ runtime
// and the allocator (system code), the first frame decides: the user's code, or leakguard's or
// the test framework's (a section tracker, a failure record: even when the framework's macro expanded in
// the test's body). The C runtime and the loader allocating for themselves (a new thread's TLS
// vector, stdio buffers, locale and time-zone data, dlerror's message) are never the user's, even
// on the user's behalf, and a frame that names nothing (where a walk through code without frame
// pointers ends) is no evidence either way.
enum class Owner { kUser, kFramework, kRuntime };

Owner owner_of(const Survivor& s, const AttributionRule& rule) {
  if (s.traceback.empty()) return Owner::kRuntime;
  const std::string& module = s.traceback[0].module;
  for (const char* runtime : {"/libc.so", "/libc-", "/ld-linux", "/libpthread", "/libdl."}) {
    if (module.find(runtime) != std::string::npos) return Owner::kRuntime;
  }
  const auto not_users = framework();
  for (const Frame& f : s.traceback) {
    if (f.module.empty() && f.function.empty() && f.filename.empty()) continue;
    if (not_users->is_system(f)) return Owner::kFramework;
    if (!rule.is_system(f)) return Owner::kUser;
  }
  return Owner::kRuntime;
}

bool users(const Survivor& s, const AttributionRule& rule) { return owner_of(s, rule) == Owner::kUser; }

// A file's suppressions, or none when it is bad (said on stderr). Lives with the process: checks
// may run at exit.
const Suppressions* load_suppressions(const char* path) {
  detail::UntracedScope untraced;
  if (path == nullptr || *path == '\0') return new Suppressions();
  try {
    return new Suppressions(Suppressions::load(path));
  } catch (const SuppressionError& e) {
    std::fprintf(stderr, "%s; no suppression applies\n", e.what());
    return new Suppressions();
  }
}

std::atomic<const Suppressions*> g_suppressions{nullptr};  // set_suppressions_file's

const Suppressions& suppressions() {
  if (const Suppressions* set = g_suppressions.load(std::memory_order_acquire)) return *set;
  static const Suppressions* from_environment = load_suppressions(std::getenv("LEAKGUARD_SUPPRESSIONS"));
  return *from_environment;
}

std::atomic<int> g_mode{-1};  // set_check_mode's, or -1

// What the running test said about itself (skip_leak_check, expect_leaked_blocks).
std::atomic<bool> g_skip_test{false};
std::atomic<std::int64_t> g_expected_blocks{-1};
std::atomic<std::int64_t> g_net_budget{-1};

// A check's copies of block addresses outlive it in freed heap memory, which the next scan reads
// (the heap outside traced blocks is a root): a retry would then find the lost block "held" by
// the previous check's own leftovers. They are zeroed before they are freed.
void forget_addresses(Classification& c) {
  for (Survivor& s : c.survivors) s.address = 0;
}

TestVerdict judge(Classification found, CheckMode mode) {
  TestVerdict verdict;
  if (found.survivors.empty()) {
    // Nothing of the test's survived, the verdict of nearly every test: the reports the loop
    // below would make of nothing, without making them (~900 instructions a test).
    verdict.growth.what = "growth";
    verdict.report.what = mode == CheckMode::kStrict && g_expected_blocks.load() < 0 ? "growth (strict mode)" : "leak";
    return verdict;
  }
  const auto rule = detail::current_attribution_rule();
  Classification shown, grown;
  for (const Survivor& s : found.survivors) {
    if (s.ignored || suppressions().match(s.traceback) != nullptr) continue;
    // A lost block is the test's, unless the framework or leakguard allocated it: a leak in the
    // runtime's code is one the test's call into it made (strdup, getline), and counts.
    if (s.kind != SurvivorKind::kHeld && owner_of(s, *rule) == Owner::kFramework) continue;
    if (s.kind != SurvivorKind::kHeld) {
      verdict.leaked_bytes += s.size;
      ++verdict.leaked_blocks;
      shown.survivors.push_back(s);
      grown.survivors.push_back(s);
    } else if (users(s, *rule)) {
      verdict.held_bytes += s.size;
      ++verdict.held_blocks;
      // Copied straight into the heap, whose copies forget_addresses zeroes: a copy on the stack
      // would outlive this frame and hold the block on a retry.
      grown.survivors.push_back(s);
      grown.survivors.back().kind = SurvivorKind::kDirectLeak;
      if (mode == CheckMode::kStrict) {  // strict: reachable growth counts too
        shown.survivors.push_back(s);
        shown.survivors.back().kind = SurvivorKind::kDirectLeak;
      }
    }
  }
  verdict.growth = leak_report(grown, "growth");
  forget_addresses(found);
  forget_addresses(shown);
  forget_addresses(grown);
  const std::int64_t expected = g_expected_blocks.load();
  if (expected >= 0) {  // the test leaks on purpose: only more than it said is a failure
    // At most, not exactly: a stale copy of a pointer can make a lost block look held, and a test
    // must not fail for that.
    const bool as_expected = verdict.leaked_blocks <= static_cast<std::size_t>(expected);
    verdict.report = leak_report(shown, as_expected ? "leak" : "leak of " + std::to_string(verdict.leaked_blocks) +
                                                                   " blocks where at most " + std::to_string(expected) +
                                                                   " were expected");
    if (as_expected) verdict.report.sites.clear();
    verdict.failed = !as_expected && mode != CheckMode::kReport;
    return verdict;
  }
  verdict.report = leak_report(shown, mode == CheckMode::kStrict ? "growth (strict mode)" : "leak");
  verdict.failed = (mode == CheckMode::kFail || mode == CheckMode::kStrict) && !verdict.report.sites.empty();
  return verdict;
}

}  // namespace

bool parse_check_mode(const char* text, CheckMode* mode) {
  static constexpr std::pair<const char*, CheckMode> kModes[] = {
      {"off", CheckMode::kOff}, {"report", CheckMode::kReport}, {"fail", CheckMode::kFail}, {"strict", CheckMode::kStrict}};
  for (const auto& [name, value] : kModes) {
    if (std::strcmp(text, name) == 0) {
      *mode = value;
      return true;
    }
  }
  return false;
}

CheckMode check_mode() {
  const int set = g_mode.load();
  return set >= 0 ? static_cast<CheckMode>(set) : check_mode_from_environment();
}

void set_check_mode(CheckMode mode) { g_mode.store(static_cast<int>(mode)); }

void set_suppressions_file(const std::string& path) {
  g_suppressions.store(load_suppressions(path.c_str()), std::memory_order_release);
}

CheckMode check_mode_from_environment() {
  static const CheckMode mode = read_mode();
  return mode;
}

void RepeatedRuns::record(const std::string& test, std::int64_t bytes, std::int64_t blocks) {
  detail::UntracedScope untraced;  // bookkeeping across tests is not any test's growth
  runs_[test].emplace_back(bytes, blocks);
}

namespace {
// The snapshot's heap blocks that the user's code allocated (users()), by their shared tracebacks.
Snapshot users_heap(const Snapshot& all) {
  const auto rule = detail::current_attribution_rule();
  std::map<const Traceback*, bool> decided;
  std::vector<Trace> kept;
  for (const Trace& t : all.traces()) {
    if (t.domain != kHeapDomain) continue;
    auto [it, fresh] = decided.emplace(t.traceback_ptr.get(), false);
    if (fresh) {
      Survivor s;
      s.traceback = t.traceback();
      it->second = users(s, *rule) && suppressions().match(s.traceback) == nullptr;
    }
    if (it->second) kept.push_back(t);
  }
  return Snapshot(std::move(kept), all.traceback_limit());
}
}  // namespace

NetGrowth user_net_growth(const Snapshot& before, const Snapshot& after) {
  detail::UntracedScope untraced;
  const Snapshot old_users = users_heap(before), new_users = users_heap(after);
  NetGrowth net;
  for (const StatisticDiff& d : new_users.compare_to(old_users, KeyType::kTraceback)) {
    net.bytes += d.size_diff;
    net.blocks += d.count_diff;
  }
  net.report = growth_report(old_users, new_users, "growth");
  net.report.total_bytes = net.bytes;
  net.report.total_blocks = net.blocks;
  return net;
}

LeakVerdict RepeatedRuns::verdict(const std::string& test) const {
  const auto it = runs_.find(test);
  if (it == runs_.end() || static_cast<int>(it->second.size()) <= warmup_) return LeakVerdict::kNoLeak;
  int measured = 0, grew = 0;
  for (std::size_t i = static_cast<std::size_t>(warmup_); i < it->second.size(); ++i) {
    ++measured;
    const auto [bytes, blocks] = it->second[i];
    grew += (bytes > 0 || (bytes == 0 && blocks > 0)) ? 1 : 0;
  }
  return grew == measured ? LeakVerdict::kLeak : (grew == 0 ? LeakVerdict::kNoLeak : LeakVerdict::kSuspicious);
}

std::int64_t RepeatedRuns::first_run_growth(const std::string& test) const {
  const auto it = runs_.find(test);
  return it == runs_.end() || it->second.empty() ? 0 : it->second.front().first;
}

std::vector<std::int64_t> RepeatedRuns::growth_after_warmup(const std::string& test) const {
  std::vector<std::int64_t> bytes;
  const auto it = runs_.find(test);
  if (it == runs_.end()) return bytes;
  for (std::size_t i = static_cast<std::size_t>(warmup_); i < it->second.size(); ++i) bytes.push_back(it->second[i].first);
  return bytes;
}

__attribute__((noinline)) void wipe_dead_stack() {
  char wipe[16 * 1024];
  std::memset(wipe, 0, sizeof wipe);
  // The stores are otherwise dead, and the compiler removed them (and then the whole call).
  asm volatile("" : : "r"(wipe) : "memory");
}

void declare_test_framework(const std::vector<std::string>& namespaces, const std::vector<std::string>& files) {
  detail::UntracedScope untraced;  // lives with the process, as the rule does
  AttributionRule frames = leakguards_own();
  frames.system_namespaces.insert(frames.system_namespaces.end(), namespaces.begin(), namespaces.end());
  frames.system_files.insert(frames.system_files.end(), files.begin(), files.end());
  {
    std::lock_guard<std::mutex> lock(g_framework_mutex);
    g_framework = std::make_shared<const AttributionRule>(frames);
  }
  AttributionRule rule = attribution_rule();
  rule.system_namespaces.insert(rule.system_namespaces.end(), namespaces.begin(), namespaces.end());
  rule.system_files.insert(rule.system_files.end(), files.begin(), files.end());
  set_attribution_rule(std::move(rule));
}

namespace detail {
bool users_block(const Survivor& s) { return users(s, *current_attribution_rule()); }
bool suppressed(const Traceback& traceback) { return suppressions().match(traceback) != nullptr; }
bool test_skipped() { return g_skip_test.load(); }
std::int64_t test_net_budget() { return g_net_budget.load(); }
void set_test_net_budget(std::int64_t bytes) { g_net_budget.store(bytes); }
void forget_test_wishes() {
  g_skip_test.store(false);
  g_expected_blocks.store(-1);
  g_net_budget.store(-1);
}
}  // namespace detail

void skip_leak_check() { g_skip_test.store(true); }
void expect_leaked_blocks(std::size_t blocks) { g_expected_blocks.store(static_cast<std::int64_t>(blocks)); }

TestVerdict finish_test_window(const Checkpoint& window, CheckMode mode, std::int64_t net_budget) {
  // What the test said about itself holds for this window only.
  struct ForgetTestWishes {
    ~ForgetTestWishes() { detail::forget_test_wishes(); }
  } forget;
  if (mode == CheckMode::kOff || g_skip_test.load()) return {};
  detail::UntracedScope untraced;  // the verdict's own memory must not be judged on the retry
  TestVerdict verdict = judge(classify_survivors(window), mode);
  auto would_fail = [net_budget](const TestVerdict& v) {
    return !v.report.sites.empty() || (net_budget >= 0 && v.growth.total_bytes > net_budget);
  };
  for (int wait_ms = 1; wait_ms <= 16 && would_fail(verdict); wait_ms *= 2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    verdict = judge(classify_survivors(window), mode);
  }
  return verdict;
}

}  // namespace leakguard
