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
#include "report/where.hpp"

namespace leakguard::detail {
namespace {

constexpr const char* kSuffix = ".leakguard.jsonl";

struct RunFileState {
  ForkSafeMutex mutex;
  std::string dir;       // absolute; "" until run_file_open
  int fd = -1;           // -1 until the first test, and after the run's end
  bool finished = false;
  bool failed = false;   // an open or write failed: said once on stderr, not tried again
  pid_t owner = 0;       // the process the file is for; a fork child records nothing
  std::string path;
  std::string test;      // the current test
  std::set<std::string> checked;       // every test checked so far, once each
  std::vector<std::string> unwritten;  // of those, the ones no "checked" line names yet
};

// Set once a directory is known: until then every call returns at once, so a process without a
// run file pays one load per test.
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
// findings are the parent's test's business, so it writes nothing. The tracer's remembered pid
// (a getpid() system call per test cost more than the rest of the record here), which a fork child
// learns anew in its fork handler; a child of a raw clone() runs no handler and is not told apart.
class Locked {
 public:
  explicit Locked(RunFileState& s) : s_(s) {
    s.mutex.lock_and_check_fork();  // a child writes nothing, so what a fork broke does not matter
    usable_ = !s.dir.empty() && !s.failed && !s.finished && s.owner == process_id();
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

// Said once; the tests run on without the file (what it already holds stays, a whole line each).
void complain(RunFileState& s, const std::string& what, int error) {
  if (!s.failed) {
    std::fprintf(stderr, "leakguard: run file: %s: %s; %s\n", what.c_str(), std::strerror(error),
                 s.fd >= 0 ? "the file ends here" : "no run file is written");
  }
  s.failed = true;
  if (s.fd >= 0) ::close(s.fd);
  s.fd = -1;
}

bool write_all(RunFileState& s, const std::string& text) {
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(s.fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      complain(s, "writing " + s.path, n < 0 ? errno : EIO);
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// Created at the first test, not at start-up: a run that only lists its tests (test discovery)
// leaves no file that would read as a run that never finished.
bool ensure_created(RunFileState& s) {
  if (s.fd >= 0) return true;
  const std::string program = executable_path();
  const std::string stem = s.dir + "/" + base_name(program) + "-" + std::to_string(s.owner);
  // A name of its own even when a pid comes round again (pid namespaces, long-lived CI hosts).
  for (int n = 1; s.fd < 0 && n <= 100; ++n) {
    s.path = stem + (n == 1 ? "" : "-" + std::to_string(n)) + kSuffix;
    s.fd = ::open(s.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0666);
    if (s.fd < 0 && errno != EEXIST) break;
  }
  if (s.fd < 0) {
    complain(s, "creating " + s.path, errno);
    return false;
  }
  if (!write_all(s, run_header_line(program, s.owner))) {
    ::unlink(s.path.c_str());  // a file without its first line is no run file
    return false;
  }
  return true;
}

std::string unwritten_checked_line(RunFileState& s) {
  if (s.unwritten.empty()) return {};
  std::string line = run_checked_line(s.unwritten);
  s.unwritten.clear();
  return line;
}

// Names of passing tests go out in batches: a line per test would cost a write() per test. A crash
// loses at most the names of the tests checked since the last line.
constexpr std::size_t kCheckedBatch = 32;

void note_checked(RunFileState& s, const std::string& test) {
  if (!s.checked.insert(test).second) return;
  s.unwritten.push_back(test);
  if (s.unwritten.size() >= kCheckedBatch && ensure_created(s)) write_all(s, unwritten_checked_line(s));
}

}  // namespace

void run_file_open(const std::string& dir) {
  if (dir.empty()) return;
  RunFileState& s = state();
  UntracedScope untraced;
  s.mutex.lock();
  if (s.dir.empty() && !s.failed) {
    try {
      // Made now, and absolute: a problem is said before the tests run, and a test that changes
      // directory does not move the file.
      if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) {
        complain(s, "creating directory " + dir, errno);
      } else if (char* real = ::realpath(dir.c_str(), nullptr); real == nullptr) {
        complain(s, dir, errno);
      } else {
        const std::string absolute = real;
        std::free(real);
        struct stat st {};
        if (::stat(absolute.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
          complain(s, dir, ENOTDIR);
        } else {
          s.dir = absolute;
          s.owner = process_id();
          g_open.store(true, std::memory_order_release);
        }
      }
    } catch (...) {
      complain(s, "keeping a run file in " + dir, ENOMEM);
    }
  }
  s.mutex.unlock();
}

bool run_file_is_open() { return g_open.load(std::memory_order_acquire); }

namespace {

// Runs `record` on the state, locked and untraced, when this process keeps a file; a failure in it
// (no memory) is said once and ends the file, never reaches the test.
template <class Record>
void with_run_file(Record&& record) {
  if (!run_file_is_open()) return;
  RunFileState& s = state();
  UntracedScope untraced;
  Locked lock(s);
  if (!lock.usable()) return;
  try {
    record(s);
  } catch (...) {
    complain(s, "recording in " + s.path, ENOMEM);
  }
}

}  // namespace

void run_file_begin_test(const std::string& name) {
  with_run_file([&](RunFileState& s) {
    s.test = name;
    if (!name.empty()) ensure_created(s);
  });
}

void run_file_count_checked() {
  with_run_file([](RunFileState& s) { note_checked(s, s.test); });
}

void run_file_add_failure(const std::string& file, int line, const Report& report) {
  with_run_file([&](RunFileState& s) {
    RunFailure failure{s.test.empty() ? std::string("(outside any test)") : s.test, file, line, report};
    const Frame* source = failure.file.empty() ? failure_source(report) : nullptr;
    if (source != nullptr) {
      failure.file = source->filename;
      failure.line = source->lineno;
    }
    note_checked(s, failure.test);  // a failing test counts as checked, even one opted out
    if (ensure_created(s)) write_all(s, unwritten_checked_line(s) + run_failure_line(failure));
  });
}

void run_file_finish() {
  with_run_file([](RunFileState& s) {
    // A run that checked no test (only listed them, or all were skipped) has nothing to say.
    if (s.fd >= 0 || !s.checked.empty()) {
      if (ensure_created(s)) write_all(s, unwritten_checked_line(s) + run_complete_line());
    }
    // Nothing follows the line that says the run is complete.
    if (s.fd >= 0) ::close(s.fd);
    s.fd = -1;
    s.finished = true;
  });
}

}  // namespace leakguard::detail
