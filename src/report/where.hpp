// How reports name places: a path's last part, and the source line a failure points at.
#pragma once
#include <string>

#include "leakguard/report.hpp"

namespace leakguard::detail {

inline std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The frame a failure about `report` points at: `at`'s attribution frame when given (the
// allocation that crossed a budget), otherwise that of the report's first, largest site; nullptr
// when that frame has no file:line.
inline const Frame* failure_source(const Report& report, const Traceback* at = nullptr) {
  if (at == nullptr && !report.sites.empty()) at = &report.sites[0].traceback;
  if (at == nullptr || at->empty() || !at->attribution_frame().has_source()) return nullptr;
  return &at->attribution_frame();
}

}  // namespace leakguard::detail
