// The run file (run_file.hpp): created when the run starts, then only appended to, a whole line
// with one write() at a time, so that a process that dies leaves every line it finished.
#include "report/run_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <vector>

#include "core/fork_safe_mutex.hpp"
#include "core/tracer.hpp"
#include "report/run_file_format.hpp"

namespace leakguard::detail {
namespace {

constexpr const char* kSuffix = ".leakguard.jsonl";

struct RunFileState {
  ForkSafeMutex mutex;
  int fd = -1;           // -1 while closed
  bool failed = false;   // an open or write failed: said once on stderr, not tried again
  pid_t owner = 0;       // the process the file is for; a fork child records nothing
  std::string path;
  std::string test;      // the current test
  std::set<std::string> checked;       // every test checked so far, once each
  std::vector<std::string> unwritten;  // of those, the ones no "checked" line names yet
};

// Set once the file is open: until then every call returns at once, so a process without a run
// file pays one load per test.
std::atomic<bool> g_open{false};

RunFileState& state() {
  static RunFileState* s = [] {
    UntracedScope untraced;  // lives as long as the process, as the tracer's own
    return new RunFileState;
  }();
  return *s;
}

// The lock, for the process the file is for. A fork child (a death test's, a test's own) shares
// the parent's descriptor: what it wrote would interleave with the parent's lines, and its
// findings are the parent's test's business, so it writes nothing.
class Locked {
 public:
  explicit Locked(RunFileState& s) : s_(s) {
    s.mutex.lock_and_check_fork();
    usable_ = s.fd >= 0 && s.owner == process_id();
  }
  ~Locked() { s_.mutex.unlock(); }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;
  bool usable() const { return usable_; }

 private:
  RunFileState& s_;
  bool usable_ = false;
};

std::string executable_path() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("unknown");
}

std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

void complain(RunFileState& s, const std::string& what, int error) {
  if (!s.failed) {
    std::fprintf(stderr, "leakguard: LEAKGUARD_REPORT_DIR: %s: %s; no run file is written\n", what.c_str(),
                 std::strerror(error));
  }
  s.failed = true;
  if (s.fd >= 0) ::close(s.fd);
  s.fd = -1;
}

void write_all(RunFileState& s, const std::string& text) {
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(s.fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return complain(s, "writing " + s.path, n < 0 ? errno : EIO);
    done += static_cast<std::size_t>(n);
  }
}

std::string unwritten_checked_line(RunFileState& s) {
  if (s.unwritten.empty()) return {};
  std::string line = run_checked_line(s.unwritten);
  s.unwritten.clear();
  return line;
}

void note_checked(RunFileState& s, const std::string& test) {
  if (s.checked.insert(test).second) s.unwritten.push_back(test);
}

}  // namespace

void run_file_open(const std::string& dir) {
  if (dir.empty()) return;
  RunFileState& s = state();
  UntracedScope untraced;
  s.mutex.lock();
  if (s.fd < 0 && !s.failed) {
    try {
      // Absolute: a test that changes directory must not scatter its later lines elsewhere.
      if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) {
        complain(s, "creating " + dir, errno);
      } else if (char* real = ::realpath(dir.c_str(), nullptr); real == nullptr) {
        complain(s, dir, errno);
      } else {
        const std::string absolute = real;
        std::free(real);
        struct stat st {};
        if (::stat(absolute.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
          complain(s, dir, ENOTDIR);
        } else {
          const std::string program = executable_path();
          const std::string stem = absolute + "/" + base_name(program) + "-" + std::to_string(process_id());
          // A name of its own even when a pid comes round again (pid namespaces, long CI hosts).
          for (int n = 1; s.fd < 0 && n <= 100; ++n) {
            s.path = stem + (n == 1 ? "" : "-" + std::to_string(n)) + kSuffix;
            s.fd = ::open(s.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0666);
            if (s.fd < 0 && errno != EEXIST) break;
          }
          if (s.fd < 0) {
            complain(s, "creating " + s.path, errno);
          } else {
            s.owner = process_id();
            write_all(s, run_header_line(program, s.owner));
            if (s.fd >= 0) g_open.store(true, std::memory_order_release);
          }
        }
      }
    } catch (...) {
      complain(s, "recording in " + dir, ENOMEM);
    }
  }
  s.mutex.unlock();
}

bool run_file_is_open() { return g_open.load(std::memory_order_acquire); }

void run_file_begin_test(const std::string& name) {
  if (!run_file_is_open()) return;
  RunFileState& s = state();
  UntracedScope untraced;
  Locked lock(s);
  if (!lock.usable()) return;
  try {
    s.test = name;
  } catch (...) {
    complain(s, "recording in " + s.path, ENOMEM);
  }
}

void run_file_count_checked() {
  if (!run_file_is_open()) return;
  RunFileState& s = state();
  UntracedScope untraced;
  Locked lock(s);
  if (!lock.usable()) return;
  try {
    note_checked(s, s.test);
  } catch (...) {
    complain(s, "recording in " + s.path, ENOMEM);
  }
}

void run_file_add_failure(const std::string& file, int line, const Report& report) {
  if (!run_file_is_open()) return;
  RunFileState& s = state();
  UntracedScope untraced;
  Locked lock(s);
  if (!lock.usable()) return;
  try {
    RunFailure failure{s.test.empty() ? std::string("(outside any test)") : s.test, file, line, report};
    if (failure.file.empty() && !report.sites.empty() && !report.sites[0].traceback.empty() &&
        report.sites[0].traceback.attribution_frame().has_source()) {
      failure.file = report.sites[0].traceback.attribution_frame().filename;
      failure.line = report.sites[0].traceback.attribution_frame().lineno;
    }
    note_checked(s, failure.test);  // a failing test counts as checked, even one opted out
    write_all(s, unwritten_checked_line(s) + run_failure_line(failure));
  } catch (...) {
    complain(s, "recording in " + s.path, ENOMEM);
  }
}

void run_file_finish() {
  if (!run_file_is_open()) return;
  RunFileState& s = state();
  UntracedScope untraced;
  Locked lock(s);
  if (!lock.usable()) return;
  try {
    write_all(s, unwritten_checked_line(s) + run_complete_line());
  } catch (...) {
    complain(s, "recording in " + s.path, ENOMEM);
  }
  // Nothing follows the line that says the run is complete.
  if (s.fd >= 0) ::close(s.fd);
  s.fd = -1;
}

}  // namespace leakguard::detail
