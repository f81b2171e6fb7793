// The per-test controller the framework adapters share (test_checker.hpp).
#include "leakguard/test_checker.hpp"

#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>

#include "analysis/checkpoint_window.hpp"
#include "analysis/snapshot_filters.hpp"
#include "analysis/test_wishes.hpp"
#include "core/tracer.hpp"
#include "leakguard/budget.hpp"
#include "leakguard/sizes.hpp"
#include "leakguard/tracing.hpp"
#include "report/run_file.hpp"
#include "report/where.hpp"

namespace leakguard {
namespace {

std::int64_t size_from_environment(const char* variable, std::int64_t otherwise) {
  const char* value = std::getenv(variable);
  if (value == nullptr || *value == '\0') return otherwise;
  try {
    return static_cast<std::int64_t>(parse_bytes(value));
  } catch (const BadSize& e) {
    std::fprintf(stderr, "leakguard: %s='%s' is not a size (%s); ignored\n", variable, value, e.what());
    return otherwise;
  }
}

int repeat_from_environment() {
  const char* value = std::getenv("LEAKGUARD_REPEAT");
  if (value == nullptr || *value == '\0') return 1;
  int n = 0;
  const char* end = value + std::strlen(value);
  const auto [at, error] = std::from_chars(value, end, n);
  if (error != std::errc() || at != end || n < 1) {
    std::fprintf(stderr, "leakguard: LEAKGUARD_REPEAT='%s' is not a number of runs (1 or more); running once\n", value);
    return 1;
  }
  return n;
}

std::vector<std::string> split_patterns(std::string_view patterns) {
  std::vector<std::string> out;
  while (!patterns.empty()) {
    const std::size_t colon = patterns.find(':');
    const std::string_view one = patterns.substr(0, colon);
    if (!one.empty()) out.emplace_back(one);
    if (colon == std::string_view::npos) break;
    patterns.remove_prefix(colon + 1);
  }
  return out;
}

bool glob(std::string_view pattern, std::string_view name) {
  std::size_t p = 0, n = 0, star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// skip_leak_checks_for's patterns: registered from static constructors, so built on first use.
struct SkipRegistry {
  std::mutex mutex;
  std::vector<std::string> patterns;
};
SkipRegistry& skip_registry() {
  static SkipRegistry* registry = [] {
    detail::UntracedScope untraced;  // lives as long as the process, as the tracer's own
    return new SkipRegistry;
  }();
  return *registry;
}

bool skipped_by_name(const TestSettings& settings, const std::string& name) {
  for (const std::string& p : settings.skip) {
    if (glob(p, name)) return true;
  }
  SkipRegistry& registry = skip_registry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  for (const std::string& p : registry.patterns) {
    if (name_matches(p, name)) return true;
  }
  return false;
}

TestFinding failure_at(const Report& report, const Traceback* at, std::string text) {
  TestFinding f;
  f.fails = true;
  f.text = std::move(text);
  if (const Frame* source = detail::failure_source(report, at)) {
    f.file = source->filename;
    f.line = source->lineno;
  }
  return f;
}

std::string text_of(const Report& report) {
  TextOptions options;
  options.colour = colour_for_stderr();
  return format_text(report, options);
}

}  // namespace

struct TestChecker::State {
  TestSettings settings;
  int iteration = 0;
  int iterations = 1;
  std::string name;
  std::optional<Checkpoint> window;
  std::unique_ptr<MemoryBudget> peak;  // the test's peak budget, when one applies
  RepeatedRuns runs;
  // Repeated runs: the tracer logs what the test's run frees of the heap from before it
  // (tracer_log_departures), so its net change costs what it did, not the heap's size.
  bool logging_departures = false;

  void arm_peak_budget(std::size_t bytes) {
    detail::UntracedScope untraced;
    peak.reset();  // first: one budget's watch ends before the next one's begins
    peak = std::make_unique<MemoryBudget>(BudgetKind::kPeak, bytes);
  }
};

namespace {
// The checker whose test is running, for set_test_peak_budget.
std::atomic<TestChecker::State*> g_running{nullptr};
}  // namespace

const TestSettings& TestSettings::from_environment() {
  static const TestSettings settings = [] {
    detail::UntracedScope untraced;
    TestSettings s;
    s.mode = check_mode_from_environment();
    s.net_budget = size_from_environment("LEAKGUARD_NET_BUDGET", -1);
    s.peak_budget = size_from_environment("LEAKGUARD_PEAK_BUDGET", -1);
    s.held_note = static_cast<std::size_t>(
        size_from_environment("LEAKGUARD_HELD_NOTE", static_cast<std::int64_t>(s.held_note)));
    if (const char* skip = std::getenv("LEAKGUARD_SKIP")) s.skip = split_patterns(skip);
    s.repeat = repeat_from_environment();
    if (const char* file = std::getenv("LEAKGUARD_SUPPRESSIONS")) s.suppressions = file;
    if (const char* dir = std::getenv("LEAKGUARD_REPORT_DIR")) s.report_dir = dir;
    return s;
  }();
  return settings;
}

TestSettings TestSettings::with_flags(TestSettings s, const std::vector<std::string>& args) {
  detail::UntracedScope untraced;
  static constexpr std::string_view kPrefix = "--leakguard_";
  for (const std::string& arg : args) {
    if (arg.compare(0, kPrefix.size(), kPrefix) != 0) continue;
    const std::size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    auto bad = [&](const char* expected) {
      std::fprintf(stderr, "leakguard: %s='%s' is not %s; ignored\n", name.c_str(), value.c_str(), expected);
    };
    auto size = [&](std::int64_t* into) {
      try {
        *into = static_cast<std::int64_t>(parse_bytes(value));
      } catch (const BadSize& e) {
        bad("a size");
      }
    };
    if (name == "--leakguard_mode") {
      if (!parse_check_mode(value.c_str(), &s.mode)) bad("a mode (expected off, report, fail or strict)");
    } else if (name == "--leakguard_net_budget") {
      size(&s.net_budget);
    } else if (name == "--leakguard_peak_budget") {
      size(&s.peak_budget);
    } else if (name == "--leakguard_held_note") {
      std::int64_t bytes = static_cast<std::int64_t>(s.held_note);
      size(&bytes);
      s.held_note = static_cast<std::size_t>(bytes);
    } else if (name == "--leakguard_skip") {
      s.skip = split_patterns(value);
    } else if (name == "--leakguard_repeat") {
      int n = 0;
      const auto [at, error] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (error != std::errc() || at != value.data() + value.size() || n < 1) {
        bad("a number of runs (1 or more)");
      } else {
        s.repeat = n;
      }
    } else if (name == "--leakguard_suppressions") {
      s.suppressions = value;
    } else if (name == "--leakguard_report_dir") {
      s.report_dir = value;
    } else {
      std::fprintf(stderr, "leakguard: unknown flag %s (expected --leakguard_mode, _net_budget, _peak_budget, "
                           "_held_note, _skip, _repeat, _suppressions or _report_dir); ignored\n", arg.c_str());
    }
  }
  return s;
}

void TestSettings::apply_to_process() const {
  set_check_mode(mode);
  const char* env = std::getenv("LEAKGUARD_SUPPRESSIONS");
  if (suppressions != (env != nullptr ? env : "")) set_suppressions_file(suppressions);
  if (mode != CheckMode::kOff) detail::run_file_open(report_dir);
}

void set_test_net_budget(std::size_t bytes) { detail::set_test_net_budget(static_cast<std::int64_t>(bytes)); }
void set_test_net_budget(std::string_view size) { set_test_net_budget(parse_bytes(size)); }

void set_test_peak_budget(std::size_t bytes) {
  if (TestChecker::State* running = g_running.load()) running->arm_peak_budget(bytes);
}
void set_test_peak_budget(std::string_view size) { set_test_peak_budget(parse_bytes(size)); }

void skip_leak_checks_for(std::string patterns) {
  SkipRegistry& registry = skip_registry();
  detail::UntracedScope untraced;
  std::lock_guard<std::mutex> lock(registry.mutex);
  registry.patterns.push_back(std::move(patterns));
}

bool name_matches(std::string_view patterns, std::string_view name) {
  for (const std::string& p : split_patterns(patterns)) {
    if (glob(p, name)) return true;
  }
  return false;
}

bool TestOutcome::failed() const {
  for (const TestFinding& f : findings) {
    if (f.fails) return true;
  }
  return false;
}

TestChecker::TestChecker(const TestSettings& settings) : state_(std::make_unique<State>()) {
  state_->settings = settings;
}

TestChecker::~TestChecker() {
  State* self = state_.get();
  g_running.compare_exchange_strong(self, nullptr);
}

const TestSettings& TestChecker::settings() const { return state_->settings; }

void TestChecker::begin_iteration(int iteration, int iterations) {
  state_->iteration = iteration;
  state_->iterations = iterations;
}

void TestChecker::end_run() { detail::run_file_finish(); }

void TestChecker::begin_test(std::string name) {
  State& s = *state_;
  {
    detail::UntracedScope untraced;  // the checker's bookkeeping is not the test's memory
    s.name = std::move(name);
  }
  detail::run_file_begin_test(s.name);
  if (s.settings.mode == CheckMode::kOff || !is_tracing() || skipped_by_name(s.settings, s.name)) return;
  if (s.settings.peak_budget >= 0) s.arm_peak_budget(static_cast<std::size_t>(s.settings.peak_budget));
  g_running.store(&s);
  // Last: everything above is the checker's, not the test's. The test body returns before the end
  // check, which the framework calls through frames built over the body's dead ones.
  s.window.emplace(StackRoots::kSharedFrames);
  if (s.iterations >= 2) {  // the repeated-run rule judges the run's net growth
    const detail::CheckpointWindow window = detail::checkpoint_window(*s.window);
    detail::tracer_log_departures(window.id, window.wraps);
    s.logging_departures = true;
  }
}

void TestChecker::begin_unchecked_test(std::string_view name) {
  detail::UntracedScope untraced;
  detail::run_file_begin_test(std::string(name));
}

void TestChecker::name_run(std::string_view name) {
  {
    detail::UntracedScope untraced;  // a copy of the checker's own, not the test's memory
    state_->name.assign(name);
  }
  detail::run_file_begin_test(state_->name);
}

namespace {

// Everything with locals, below the wiped stack.
__attribute__((noinline)) void judge_test(TestChecker::State& s, bool skipped,
                                          void (*raise)(const TestOutcome&, void*), void* context) {
  TestOutcome outcome;
  // The run's net change, once the check (and its retries) had the test's last frees.
  auto end_departures = [&s] {
    std::optional<detail::WindowChange> change;
    detail::UntracedScope untraced;
    if (s.logging_departures) change = detail::tracer_end_departures();
    s.logging_departures = false;
    return change;
  };
  if (!s.window) {
    end_departures();
    detail::forget_test_wishes();
    raise(outcome, context);
    return;
  }
  g_running.store(nullptr);
  std::optional<BudgetResult> peak;
  {
    detail::UntracedScope untraced;
    if (s.peak) peak = s.peak->check();
    s.peak.reset();
  }
  const Checkpoint window = std::move(*s.window);
  s.window.reset();
  if (skipped || detail::test_skipped()) {
    end_departures();
    detail::forget_test_wishes();
    raise(outcome, context);
    return;
  }
  const std::int64_t net_budget = detail::test_net_budget() >= 0 ? detail::test_net_budget() : s.settings.net_budget;
  const TestVerdict verdict = finish_test_window(window, s.settings.mode, net_budget);  // forgets the wishes
  const bool report_only = s.settings.mode == CheckMode::kReport;
  // Every finding that fails the test (or would, in report mode) goes to the run file too.
  auto raise_or_note = [&](const Report& report, TestFinding finding) {
    detail::run_file_add_failure(finding.file, finding.line, report);
    if (report_only) {
      finding.fails = false;
      finding.text = s.name + ": " + finding.text;
    }
    outcome.findings.push_back(std::move(finding));
  };
  outcome.checked = true;
  detail::run_file_count_checked();
  outcome.leaked_bytes = verdict.leaked_bytes;
  outcome.leaked_blocks = verdict.leaked_blocks;

  if (!verdict.report.sites.empty()) {
    raise_or_note(verdict.report, failure_at(verdict.report, nullptr, text_of(verdict.report)));
  } else if (verdict.held_bytes >= s.settings.held_note) {
    TestFinding note;
    note.text = "leakguard: " + s.name + " holds " + format_bytes(static_cast<std::int64_t>(verdict.held_bytes)) +
                " in " + std::to_string(verdict.held_blocks) +
                " blocks still reachable (caches, statics): not a leak\n";
    outcome.findings.push_back(std::move(note));
  }
  if (net_budget >= 0 && verdict.growth.total_bytes > net_budget) {
    Report over = verdict.growth;
    over.what = "net growth over the test's budget";
    over.budget = net_budget;
    raise_or_note(over, failure_at(over, nullptr, text_of(over)));
  }
  if (peak && peak->exceeded) {
    raise_or_note(peak->report, failure_at(peak->report, peak->crossing ? &*peak->crossing : nullptr, peak->message()));
  }

  std::optional<detail::WindowChange> run_change = end_departures();
  if (s.iterations >= 2 && run_change) {
    NetGrowth net;
    {
      detail::UntracedScope untraced;
      // An incomplete log (detail::WindowChange says when) cannot show
      // growth: the run counts as one that did not grow, never as a failure.
      if (run_change->complete) {
        const detail::Change change = detail::change_between(std::move(run_change->gone), std::move(run_change->came));
        net = user_net_growth(change.gone, change.came);
      }
      run_change.reset();
    }
    s.runs.record(s.name, net.bytes, net.blocks);
    if (s.iteration == s.iterations - 1) {
      const LeakVerdict across = s.runs.verdict(s.name);
      std::string grew;
      for (const std::int64_t bytes : s.runs.growth_after_warmup(s.name)) grew += " " + format_bytes(bytes, true);
      if (across == LeakVerdict::kLeak) {
        Report report = net.report;
        report.what = "growth in every repeated run after the first (" + grew.substr(1) + ")";
        raise_or_note(report, failure_at(report, nullptr, text_of(report)));
      } else if (across == LeakVerdict::kSuspicious) {
        TestFinding note;
        note.text = "leakguard: " + s.name + " grew in some of its repeated runs only (after the first:" + grew +
                    "): suspicious, not failed\n";
        outcome.findings.push_back(std::move(note));
      } else if (s.runs.first_run_growth(s.name) > 0) {
        TestFinding note;
        note.text = "leakguard: " + s.name + " grew in its first run only (" +
                    format_bytes(s.runs.first_run_growth(s.name), true) +
                    "): a lazy static or first-use cache, not a leak\n";
        outcome.findings.push_back(std::move(note));
      }
    }
  }
  raise(outcome, context);
}

}  // namespace

__attribute__((noinline)) void TestChecker::end_test_impl(bool skipped, void (*raise)(const TestOutcome&, void*),
                                                          void* context) {
  // The wipe is for the scan, which runs only when something of the test's is still alive.
  if (state_->window && state_->window->may_have_survivors()) wipe_dead_stack();
  judge_test(*state_, skipped, raise, context);
  detail::run_file_begin_test({});  // what fails after the test is no longer the test's
}

}  // namespace leakguard
