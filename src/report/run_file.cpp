// The run file (run_file.hpp). Written whole each time, to a temporary name and then renamed, so
// that a reader never sees half a file.
#include "report/run_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/fork_safe_mutex.hpp"
#include "core/tracer.hpp"
#include "leakguard/run_report.hpp"

namespace leakguard::detail {
namespace {

struct RunFileState {
  ForkSafeMutex mutex;
  std::string dir;  // "" while closed
  bool failed = false;  // a write failed: said once on stderr, not tried again
  pid_t owner = 0;      // the process whose findings `run` holds
  std::string test;     // the current test
  RunReport run;
};

// Locked, and the record this process's own: a fork child that records starts from nothing (its
// parent's findings are in the parent's file), also when the fork caught another thread here.
class Locked {
 public:
  explicit Locked(RunFileState& s) : s_(s) {
    const bool broken = s.mutex.lock_and_check_fork();
    if (broken || s.owner != process_id()) {
      s.owner = process_id();
      s.run.failures.clear();
      s.run.tests_checked = 0;
      s.run.complete = false;
    }
  }
  ~Locked() { s_.mutex.unlock(); }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;

 private:
  RunFileState& s_;
};

// Set once a directory is in use: until then every call returns at once, so a process without a
// run file pays one load per test.
std::atomic<bool> g_open{false};

RunFileState& state() {
  static RunFileState* s = [] {
    UntracedScope untraced;  // lives as long as the process, as the tracer's own
    return new RunFileState;
  }();
  return *s;
}

std::string executable_path() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("unknown");
}

std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

void complain(RunFileState& s, const std::string& what, int error) {
  if (s.failed) return;
  s.failed = true;
  std::fprintf(stderr, "leakguard: LEAKGUARD_REPORT_DIR: %s: %s; no run file is written\n", what.c_str(),
               std::strerror(error));
}

// With the mutex held and tracing muted.
void write_locked(RunFileState& s) {
  if (s.dir.empty() || s.failed) return;
  s.run.pid = s.owner;  // a fork child that reports writes a file of its own
  const std::string path = s.dir + "/" + base_name(s.run.program) + "-" + std::to_string(s.run.pid) + ".leakguard.json";
  const std::string temporary = path + ".tmp";
  const std::string text = to_json(s.run);
  FILE* f = std::fopen(temporary.c_str(), "w");
  if (f == nullptr) return complain(s, temporary, errno);
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const int write_error = errno;
  if (std::fclose(f) != 0 || !written) {
    std::remove(temporary.c_str());
    return complain(s, "writing " + temporary, written ? errno : write_error);
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(temporary.c_str());
    complain(s, "renaming " + temporary + " to " + path, error);
  }
}

}  // namespace

void run_file_open(const std::string& dir) {
  if (dir.empty()) return;
  RunFileState& s = state();
  UntracedScope untraced;
  Locked lock(s);
  if (!s.dir.empty() || s.failed) return;
  if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) return complain(s, "creating " + dir, errno);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return complain(s, dir, errno);
  if (!S_ISDIR(st.st_mode)) return complain(s, dir, ENOTDIR);
  s.dir = dir;
  s.run.program = executable_path();
  g_open.store(true, std::memory_order_release);
}

bool run_file_is_open() { return g_open.load(std::memory_order_acquire); }

void run_file_count_checked() {
  if (!run_file_is_open()) return;
  RunFileState& s = state();
  Locked lock(s);
  ++s.run.tests_checked;
}

void run_file_begin_test(const std::string& name) {
  if (!run_file_is_open()) return;
  RunFileState& s = state();
  UntracedScope untraced;
  Locked lock(s);
  if (!s.dir.empty()) s.test = name;
}

void run_file_add_failure(const std::string& file, int line, const Report& report) {
  if (!run_file_is_open()) return;
  RunFileState& s = state();
  UntracedScope untraced;
  Locked lock(s);
  if (s.dir.empty()) return;
  RunFailure failure{s.test.empty() ? std::string("(outside any test)") : s.test, file, line, report};
  if (failure.file.empty() && !report.sites.empty() && !report.sites[0].traceback.empty() &&
      report.sites[0].traceback.attribution_frame().has_source()) {
    failure.file = report.sites[0].traceback.attribution_frame().filename;
    failure.line = report.sites[0].traceback.attribution_frame().lineno;
  }
  s.run.failures.push_back(std::move(failure));
  write_locked(s);
}

void run_file_finish() {
  if (!run_file_is_open()) return;
  RunFileState& s = state();
  UntracedScope untraced;
  Locked lock(s);
  if (s.dir.empty()) return;
  s.run.complete = true;
  write_locked(s);
}

}  // namespace leakguard::detail
