#include <algorithm>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "leakguard/attribution.hpp"
#include "leakguard/traceback.hpp"
#include "core/fork_safe_mutex.hpp"
#include "core/tracer.hpp"
#include "snapshot/attribution_rule.hpp"

namespace leakguard {

std::string Frame::str() const {
  if (!filename.empty()) return filename + ":" + std::to_string(lineno);
  if (function.empty() && module.empty()) return "<unknown>";
  std::ostringstream out;
  out << (function.empty() ? "??" : function) << " (" << (module.empty() ? "??" : module) << "+0x"
      << std::hex << module_offset << ")";
  return out.str();
}

bool operator==(const Frame& a, const Frame& b) {
  return a.filename == b.filename && a.lineno == b.lineno && a.function == b.function &&
         a.module == b.module && a.module_offset == b.module_offset && a.inlined == b.inlined;
}

bool operator<(const Frame& a, const Frame& b) {
  return std::tie(a.filename, a.lineno, a.function, a.module, a.module_offset, a.inlined) <
         std::tie(b.filename, b.lineno, b.function, b.module, b.module_offset, b.inlined);
}

Traceback::Traceback(std::vector<Frame> frames, std::size_t total_nframe)
    : frames_(std::move(frames)), total_nframe_(total_nframe) {
  const auto rule = detail::current_attribution_rule();
  for (std::size_t i = 0; i < frames_.size(); ++i) {
    if (!rule->is_system(frames_[i])) {
      attribution_ = i;
      break;
    }
  }
}

std::string Traceback::str() const {
  if (frames_.empty()) return "<unknown>";
  return frames_[attribution_].str();
}

std::vector<std::string> Traceback::format(int limit, bool most_recent_first) const {
  // frames_ is most recent first; Python formats oldest first by default.
  std::size_t begin = 0, end = frames_.size();
  if (limit > 0 && static_cast<std::size_t>(limit) < end) end = static_cast<std::size_t>(limit);
  if (limit < 0 && static_cast<std::size_t>(-limit) < end) begin = end - static_cast<std::size_t>(-limit);
  std::vector<std::string> lines;
  auto emit = [&](const Frame& f) {
    std::string line;
    if (!f.filename.empty()) {
      line = "  File \"" + f.filename + "\", line " + std::to_string(f.lineno);
    } else {
      std::ostringstream where;
      where << "  File \"" << (f.module.empty() ? "??" : f.module) << "+0x" << std::hex
            << f.module_offset << "\"";
      line = where.str();
    }
    if (!f.function.empty()) line += ", in " + f.function;
    if (f.inlined) line += " [inlined]";
    lines.push_back(std::move(line));
    const std::string text = source_line(f.filename, f.lineno);
    if (!text.empty()) lines.push_back("    " + text);
  };
  if (most_recent_first) {
    for (std::size_t i = begin; i < end; ++i) emit(frames_[i]);
  } else {
    for (std::size_t i = end; i > begin; --i) emit(frames_[i - 1]);
  }
  // A module of the user's whose frames here all lack file:line was built without debug info:
  // say how to get it. (One with some file:line has debug info and only links code without it,
  // such as a distribution's static libraries; system libraries go unmentioned.)
  const auto rule = detail::current_attribution_rule();
  std::string without_debug_info;
  for (std::size_t i = begin; i < end; ++i) {
    const Frame& f = frames_[i];
    if (!f.filename.empty() || f.module.empty() || rule->is_system(f)) continue;
    if (without_debug_info.find(f.module) != std::string::npos) continue;
    const bool module_has_lines = std::any_of(frames_.begin(), frames_.end(), [&](const Frame& g) {
      return g.module == f.module && !g.filename.empty();
    });
    if (!module_has_lines) without_debug_info += (without_debug_info.empty() ? "" : ", ") + f.module;
  }
  if (!without_debug_info.empty()) {
    lines.push_back("  (no file:line for " + without_debug_info +
                    ": built without debug info; compile with -g, e.g. CMAKE_BUILD_TYPE=RelWithDebInfo)");
  }
  return lines;
}

namespace {
detail::ForkSafeMutex g_source_mutex;
std::unordered_map<std::string, std::vector<std::string>>* g_sources = nullptr;
constexpr std::size_t kMaxCachedFiles = 512;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}
}  // namespace

std::string source_line(const std::string& filename, int lineno) {
  if (filename.empty() || lineno <= 0) return {};
  detail::UntracedScope untraced;  // the cache outlives the caller's snapshots
  const bool forked_mid_update = g_source_mutex.lock_and_check_fork();
  std::lock_guard<detail::ForkSafeMutex> lock(g_source_mutex, std::adopt_lock);
  if (forked_mid_update || g_sources == nullptr) {
    g_sources = new std::unordered_map<std::string, std::vector<std::string>>;
  }
  auto it = g_sources->find(filename);
  if (it == g_sources->end()) {
    if (g_sources->size() >= kMaxCachedFiles) g_sources->clear();
    std::vector<std::string> lines;
    std::ifstream in(filename);
    for (std::string line; std::getline(in, line);) lines.push_back(std::move(line));
    it = g_sources->emplace(filename, std::move(lines)).first;
  }
  const auto& lines = it->second;
  if (static_cast<std::size_t>(lineno) > lines.size()) return {};
  return trim(lines[static_cast<std::size_t>(lineno) - 1]);
}

}  // namespace leakguard
