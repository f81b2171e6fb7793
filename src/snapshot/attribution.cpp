#include "leakguard/attribution.hpp"

#include <fnmatch.h>

#include <cctype>

#include <memory>
#include <mutex>

#include "core/fork_safe_mutex.hpp"
#include "core/tracer.hpp"
#include "snapshot/attribution_rule.hpp"

namespace leakguard {
namespace {

detail::ForkSafeMutex g_mutex;
// Replaced, never modified: a Traceback being built keeps the rule it started with.
std::shared_ptr<const AttributionRule>* g_rule = nullptr;  // never destroyed: used during exit

bool any_match(const std::vector<std::string>& patterns, const std::string& text) {
  for (const auto& p : patterns) {
    if (fnmatch(p.c_str(), text.c_str(), 0) == 0) return true;
  }
  return false;
}

bool starts_with_any(const std::vector<std::string>& prefixes, const std::string& text) {
  for (const auto& p : prefixes) {
    if (text.compare(0, p.size(), p) == 0) return true;
  }
  return false;
}

// leakguard's own sources (src/*, from this file's place in them): a leakguard frame built with
// debug info is matched by its file name, never by its namespace.
std::string leakguard_sources() {
  const std::string here = __FILE__;  // .../src/snapshot/attribution.cpp
  const std::size_t snapshot_dir = here.rfind('/');
  const std::size_t src_dir = snapshot_dir == std::string::npos ? std::string::npos : here.rfind('/', snapshot_dir - 1);
  return src_dir == std::string::npos ? "*/src/snapshot/*" : here.substr(0, src_dir) + "/*";
}

}  // namespace

AttributionRule AttributionRule::defaults() {
  AttributionRule r;
  r.system_files = {"/usr/include/*", "/usr/lib/gcc/*", "/usr/local/include/*", "*/include/c++/*",
                    "*/include/leakguard/*", leakguard_sources()};
  r.system_modules = {"*/libc.so*",   "*/libc-*",      "*/libstdc++.so*", "*/libgcc_s.so*",
                      "*/libm.so*",   "*/ld-linux*",   "*/libpthread*",   "*/libdl.so*",
                      "*linux-vdso*", "*/libleakguard*"};
  r.system_namespaces = {"std::",       "__gnu_cxx::",  "__cxxabiv1::", "leakguard::",
                         "operator new", "operator delete", "__cxa_",   "__gnu_",
                         "_IO_",        "__libc_",      "_dl_",         "__GI_",
                         "_start"};
  return r;
}

bool AttributionRule::is_system(const Frame& frame) const {
  // A runtime library is system code whatever its debug info says (glibc's names files like
  // ../sysdeps/...). Elsewhere, with debug info the source file decides: a std template
  // instantiated in your code has a /usr/include file, your own function never does.
  if (!frame.module.empty() && any_match(system_modules, frame.module)) return true;
  if (!frame.filename.empty()) return any_match(system_files, frame.filename);
  return starts_with_any(system_namespaces, qualified_function_name(frame.function));
}

namespace detail {
std::shared_ptr<const AttributionRule> current_attribution_rule() {
  UntracedScope untraced;  // the rule outlives the caller's snapshots
  const bool forked_mid_update = g_mutex.lock_and_check_fork();
  std::lock_guard<ForkSafeMutex> lock(g_mutex, std::adopt_lock);
  if (forked_mid_update || g_rule == nullptr) {
    g_rule = new std::shared_ptr<const AttributionRule>(
        std::make_shared<const AttributionRule>(AttributionRule::defaults()));
  }
  return *g_rule;
}
}  // namespace detail

AttributionRule attribution_rule() { return *detail::current_attribution_rule(); }

void set_attribution_rule(AttributionRule rule) {
  detail::UntracedScope untraced;
  auto fresh = std::make_shared<const AttributionRule>(std::move(rule));
  (void)detail::current_attribution_rule();  // makes g_rule
  std::lock_guard<detail::ForkSafeMutex> lock(g_mutex);
  g_rule->swap(fresh);
}

std::string qualified_function_name(const std::string& s) {
  static const std::string kAnon = "(anonymous namespace)";
  int angle = 0;
  std::size_t token_start = 0;
  std::size_t end = s.size();
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s.compare(i, kAnon.size(), kAnon) == 0) {
      i += kAnon.size() - 1;
      continue;
    }
    if (s.compare(i, 8, "operator") == 0 && angle == 0) {
      // operator(), operator<, operator<<, ...: the symbol characters belong to the name.
      std::size_t j = i + 8;
      if (j < s.size() && s[j] == ' ') {  // operator new, operator delete[], operator int
        ++j;
        while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_' ||
                                s[j] == '[' || s[j] == ']')) {
          ++j;
        }
      }
      if (s.compare(j, 2, "()") == 0) j += 2;
      while (j < s.size() && std::string("<>=!+-*/%&|^~[]").find(s[j]) != std::string::npos) ++j;
      i = j - 1;
      continue;
    }
    const char c = s[i];
    if (c == '<') {
      ++angle;
    } else if (c == '>') {
      if (angle > 0) --angle;
    } else if (angle == 0 && c == ' ') {
      token_start = i + 1;  // what came before was a return type
    } else if (angle == 0 && c == '(') {
      end = i;
      break;
    }
  }
  if (token_start > end) token_start = 0;
  return s.substr(token_start, end - token_start);
}

}  // namespace leakguard
