#include "leakguard/attribution.hpp"

#include <fnmatch.h>

#include <cctype>

#include <mutex>

#include "core/tracer.hpp"

namespace leakguard {
namespace {

std::mutex g_mutex;
AttributionRule* g_rule = nullptr;

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

}  // namespace

AttributionRule AttributionRule::defaults() {
  AttributionRule r;
  r.system_files = {"/usr/include/*", "/usr/lib/gcc/*", "/usr/local/include/*", "*/include/c++/*",
                    "*/include/leakguard/*"};
  r.system_modules = {"*/libc.so*",   "*/libc-*",      "*/libstdc++.so*", "*/libgcc_s.so*",
                      "*/libm.so*",   "*/ld-linux*",   "*/libpthread*",   "*/libdl.so*",
                      "*linux-vdso*", "*/libleakguard*"};
  r.system_namespaces = {"std::",       "__gnu_cxx::",  "__cxxabiv1::", "leakguard::",
                         "operator new", "operator delete", "__cxa_",   "__gnu_",
                         "_IO_",        "__libc_",      "_dl_",         "__GI_"};
  return r;
}

bool AttributionRule::is_system(const Frame& frame) const {
  // With debug info the source file decides: a std template instantiated in your code has a
  // /usr/include file, your own function never does.
  if (!frame.filename.empty()) return any_match(system_files, frame.filename);
  if (!frame.module.empty() && any_match(system_modules, frame.module)) return true;
  return starts_with_any(system_namespaces, qualified_function_name(frame.function));
}

AttributionRule attribution_rule() {
  detail::UntracedScope untraced;  // the rule outlives the caller's snapshots
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_rule == nullptr) g_rule = new AttributionRule(AttributionRule::defaults());
  return *g_rule;
}

void set_attribution_rule(AttributionRule rule) {
  detail::UntracedScope untraced;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_rule == nullptr) {
    g_rule = new AttributionRule(std::move(rule));
  } else {
    *g_rule = std::move(rule);
  }
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
