// The `leakguard` command: merges the run files of a test run (run_report.hpp) and reads snapshot
// files (Snapshot::dump) and report files (to_json) written by any process.
//
//   leakguard merge <dir or run file>... [--format text|json|collapsed]
//   leakguard stats <snapshot> [--key lineno|filename|traceback] [--cumulative] [--limit N]
//   leakguard diff <old snapshot> <new snapshot> [--key ...] [--cumulative] [--limit N]
//   leakguard show <report.json> [--format text|collapsed]
//
// Output goes to stdout, errors to stderr. Exit status: 0 when nothing failed, 1 when `merge`
// found a failing test, 2 for bad input (a file that cannot be read is named and skipped; what
// could be read is still printed).
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "leakguard/report.hpp"
#include "leakguard/run_report.hpp"
#include "leakguard/sizes.hpp"
#include "leakguard/snapshot.hpp"
#include "leakguard/test_checker.hpp"

namespace {

constexpr int kFailed = 1;
constexpr int kBadInput = 2;
constexpr const char* kRunFileSuffix = ".leakguard.jsonl";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The run files in `dir`, by name, so that the merged report is the same for the same files.
bool run_files_in(const std::string& dir, std::vector<std::string>* out) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  std::vector<std::string> found;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (ends_with(name, kRunFileSuffix)) found.push_back(dir + "/" + name);
  }
  ::closedir(d);
  std::sort(found.begin(), found.end());
  out->insert(out->end(), found.begin(), found.end());
  return true;
}

// The whole file, or false with *problem set ("is a directory", strerror).
bool read_file(const std::string& path, std::string* text, std::string* problem) {
  if (is_directory(path)) {
    *problem = "is a directory";
    return false;
  }
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    *problem = std::strerror(errno);
    return false;
  }
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text->append(buf, n);
  const bool ok = std::ferror(f) == 0;
  if (!ok) *problem = std::strerror(errno);
  std::fclose(f);
  return ok;
}

void say(const std::string& message) { std::cerr << message << "\n"; }

// Frames of the test frameworks fold in reports as they did in the test process.
void declare_frameworks() {
  leakguard::declare_test_framework({"testing::", "Catch::"}, {"*/include/gtest/*", "*/include/gmock/*", "*/catch2/*",
                                                               "*/gtest_plugin/src/*", "*/catch2_plugin/src/*"});
}

int merge(const std::vector<std::string>& paths, const std::string& format) {
  declare_frameworks();
  bool bad_input = false;
  std::vector<std::string> files;
  for (const std::string& p : paths) {
    if (!is_directory(p)) {
      files.push_back(p);
      continue;
    }
    const std::size_t before = files.size();
    if (!run_files_in(p, &files)) {
      say("leakguard: cannot read directory '" + p + "'");
      bad_input = true;
    } else if (files.size() == before) {
      say("leakguard: no run files (*" + std::string(kRunFileSuffix) + ") in '" + p +
          "': were the tests run with LEAKGUARD_REPORT_DIR=" + p + "?");
      bad_input = true;
    }
  }
  std::vector<leakguard::RunReport> runs;
  for (const std::string& f : files) {
    std::string text, problem;
    if (!read_file(f, &text, &problem)) {
      say("leakguard: cannot read run file '" + f + "': " + problem);
      bad_input = true;
      continue;
    }
    try {
      runs.push_back(leakguard::run_report_from_file(text, f));
    } catch (const leakguard::ReportError& e) {
      say(std::string(e.what()) + "; skipped");
      bad_input = true;
      continue;
    }
    if (runs.back().cut_short_line > 0) {
      say("leakguard: run file '" + f + "': line " + std::to_string(runs.back().cut_short_line) +
          " is cut short (its process ended while writing it); the lines before it are merged");
      bad_input = true;
    }
  }
  const leakguard::MergedRuns merged = leakguard::merge_runs(runs);
  if (format == "json") {
    std::cout << leakguard::to_json(merged);
  } else if (format == "collapsed") {
    for (const leakguard::RunFailure& f : merged.failures) std::cout << leakguard::to_collapsed(f.report);
  } else {
    leakguard::TextOptions options;
    options.colour = isatty(STDOUT_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr;
    std::cout << leakguard::format_text(merged, options);
  }
  std::cout.flush();
  if (bad_input) return kBadInput;
  return merged.failed_tests.empty() ? 0 : kFailed;
}

bool load_snapshot(const std::string& path, leakguard::Snapshot* out) {
  try {
    *out = leakguard::Snapshot::load(path);
    return true;
  } catch (const leakguard::SnapshotError& e) {
    say(e.what());
    return false;
  }
}

std::string total_line(const leakguard::Snapshot& snapshot) {
  std::size_t bytes = 0;
  for (const leakguard::Trace& t : snapshot.traces()) bytes += t.size;
  return "Total: " + leakguard::format_bytes(static_cast<std::int64_t>(bytes)) + " in " +
         std::to_string(snapshot.traces().size()) + " blocks";
}

template <class Stat>
void print_stats(const std::vector<Stat>& stats, const std::string& key, std::size_t limit) {
  const std::size_t shown = limit == 0 ? stats.size() : std::min(limit, stats.size());
  for (std::size_t i = 0; i < shown; ++i) {
    std::cout << "#" << i + 1 << ": " << stats[i].str() << "\n";
    if (key == "traceback") {
      for (const std::string& line : stats[i].traceback.format(0, true)) std::cout << line << "\n";
    }
  }
  if (stats.size() > shown) std::cout << "... " << stats.size() - shown << " more\n";
}

int stats(const std::string& path, const std::string& key, bool cumulative, std::size_t limit) {
  leakguard::Snapshot snapshot;
  if (!load_snapshot(path, &snapshot)) return kBadInput;
  std::cout << (limit == 0 ? std::string("All") : "Top " + std::to_string(limit)) << " by " << key << " of " << path
            << "\n";
  print_stats(snapshot.statistics(key, cumulative), key, limit);
  std::cout << total_line(snapshot) << "\n";
  return 0;
}

int diff(const std::string& old_path, const std::string& new_path, const std::string& key, bool cumulative,
         std::size_t limit) {
  leakguard::Snapshot older, newer;
  const bool old_ok = load_snapshot(old_path, &older);
  const bool new_ok = load_snapshot(new_path, &newer);
  if (!old_ok || !new_ok) return kBadInput;
  std::cout << (limit == 0 ? std::string("All") : "Top " + std::to_string(limit)) << " differences by " << key
            << " from " << old_path << " to " << new_path << "\n";
  print_stats(newer.compare_to(older, key, cumulative), key, limit);
  std::cout << "Before: " << total_line(older) << "\nAfter: " << total_line(newer) << "\n";
  return 0;
}

int show(const std::string& path, const std::string& format) {
  declare_frameworks();
  std::string text, problem;
  if (!read_file(path, &text, &problem)) {
    say("leakguard: cannot read report file '" + path + "': " + problem);
    return kBadInput;
  }
  try {
    const leakguard::Report report = leakguard::report_from_json(text, path);
    std::cout << (format == "collapsed" ? leakguard::to_collapsed(report) : leakguard::format_text(report));
  } catch (const leakguard::ReportError& e) {
    say(e.what());
    return kBadInput;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"leakguard: merges the run files of a test run, reads snapshot and report files"};
  app.require_subcommand(1);

  std::vector<std::string> merge_paths;
  std::string merge_format = "text";
  CLI::App* merge_cmd = app.add_subcommand(
      "merge", "Merge the run files of a test run (LEAKGUARD_REPORT_DIR) into one report of its failing tests. "
               "Exits 1 when a test failed, 2 when a file could not be read");
  merge_cmd->add_option("paths", merge_paths, "Run directories or run files")->required();
  merge_cmd->add_option("--format", merge_format, "text, json or collapsed (flame graph stacks)")
      ->check(CLI::IsMember({"text", "json", "collapsed"}));

  std::string key = "lineno";
  bool cumulative = false;
  std::size_t limit = 10;
  std::string stats_path;
  CLI::App* stats_cmd = app.add_subcommand("stats", "Top statistics of a snapshot file (Snapshot::dump)");
  stats_cmd->add_option("snapshot", stats_path, "A snapshot file")->required();

  std::string old_path, new_path;
  CLI::App* diff_cmd = app.add_subcommand("diff", "What grew from one snapshot file to another (compare_to)");
  diff_cmd->add_option("old", old_path, "The earlier snapshot file")->required();
  diff_cmd->add_option("new", new_path, "The later snapshot file")->required();
  for (CLI::App* cmd : {stats_cmd, diff_cmd}) {
    cmd->add_option("--key", key, "lineno, filename or traceback")
        ->check(CLI::IsMember({"lineno", "filename", "traceback"}));
    cmd->add_flag("--cumulative", cumulative, "Count a block at every frame of its traceback");
    cmd->add_option("--limit", limit, "How many entries to print (0: all)");
  }

  std::string show_path, show_format = "text";
  CLI::App* show_cmd = app.add_subcommand("show", "Print a report file (to_json) as text or collapsed stacks");
  show_cmd->add_option("report", show_path, "A report file")->required();
  show_cmd->add_option("--format", show_format, "text or collapsed")->check(CLI::IsMember({"text", "collapsed"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kBadInput;
  }
  if (cumulative && key == "traceback") {
    say("leakguard: --cumulative works with --key lineno or filename, not traceback");
    return kBadInput;
  }
  try {
    if (*merge_cmd) return merge(merge_paths, merge_format);
    if (*stats_cmd) return stats(stats_path, key, cumulative, limit);
    if (*diff_cmd) return diff(old_path, new_path, key, cumulative, limit);
    return show(show_path, show_format);
  } catch (const std::exception& e) {  // a file the readers above did not foresee: named, not a crash
    say(std::string("leakguard: ") + e.what());
    return kBadInput;
  }
}
