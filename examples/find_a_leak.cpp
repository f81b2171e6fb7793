// A leak caught and reported: a session cache that forgets to evict grows on every request.
// detect_leak() runs the request again and again and applies CPython's -R rule; the report then
// shows where the memory came from, down to the line.
//
//   build/examples/find_a_leak
#include <leakguard/leakguard.hpp>

#include <cstdio>
#include <map>
#include <memory>
#include <string>

namespace {

struct Session {
  std::string user;
  std::string token;
};

class SessionCache {
 public:
  const Session& open(int request) {
    auto session = std::make_unique<Session>();
    session->user = "user-" + std::to_string(request % 7);
    session->token = std::string(200, 't') + std::to_string(request);
    // The bug: every request adds a session under a new key, and nothing ever evicts one.
    auto& slot = sessions_[session->token];
    slot = std::move(session);
    return *slot;
  }

 private:
  std::map<std::string, std::unique_ptr<Session>> sessions_;
};

SessionCache g_cache;
int g_request = 0;

void handle_request() { (void)g_cache.open(++g_request); }

}  // namespace

int main() {
  leakguard::TraceScope tracing;
  const leakguard::LeakReport leak = leakguard::detect_leak(handle_request, /*iterations=*/8, /*warmup=*/2);

  std::fprintf(stderr, "handle_request(): %s, %+.0f bytes per call over %d calls (after %d warm-up calls)\n",
               leakguard::to_string(leak.verdict), leak.per_iter, leak.iterations, leak.warmup);
  std::fprintf(stderr, "growth per call:");
  for (const auto bytes : leak.byte_deltas) std::fprintf(stderr, " %+lld", static_cast<long long>(bytes));
  std::fprintf(stderr, "\n\nwhere it grew:\n");
  leakguard::print_top(leak.top_sites);

  // The same growth as a full report with call stacks: what a failing test prints.
  const auto before = leakguard::take_snapshot(true, true);
  for (int i = 0; i < 3; ++i) handle_request();
  const auto after = leakguard::take_snapshot(true, true);
  leakguard::TextOptions options;
  options.max_sites = 3;
  options.colour = leakguard::colour_for_stderr();
  std::fprintf(stderr, "\n%s", leakguard::format_text(leakguard::growth_report(before, after, "leak"), options).c_str());
  return leak.verdict == leakguard::LeakVerdict::kLeak ? 0 : 1;
}
