#include "symbolizer.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <link.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <backward.hpp>

#include "core/fork_safe_mutex.hpp"
#include "core/modules.hpp"
#include "core/tracer.hpp"

namespace leakguard::detail {
namespace {

struct LoadGeneration {
  unsigned long long adds = 0, subs = 0;
};
int read_generation(dl_phdr_info* info, size_t, void* data) {
  auto* g = static_cast<LoadGeneration*>(data);
  g->adds = info->dlpi_adds;
  g->subs = info->dlpi_subs;
  return 1;
}

std::string demangle(const char* name) {
  if (name == nullptr) return {};
  int status = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status != 0 || out == nullptr) return name;
  std::string result(out);
  std::free(out);
  return result;
}

class Symbolizer {
 public:
  std::vector<Frame> resolve(std::uintptr_t return_address) {
    auto it = cache_.find(return_address);
    if (it != cache_.end()) return it->second;
    std::vector<Frame> frames = resolve_uncached(return_address);
    cache_.emplace(return_address, frames);
    return frames;
  }
  std::size_t size() const { return cache_.size(); }

 private:
  backward::TraceResolver& resolver() {
    // libdw learns the module list once; modules loaded after that need a fresh resolver.
    LoadGeneration now;
    walk_loaded_modules(read_generation, &now);
    if (!resolver_ || now.adds != generation_.adds || now.subs != generation_.subs) {
      resolver_ = std::make_unique<backward::TraceResolver>();
      generation_ = now;
    }
    return *resolver_;
  }

  std::vector<Frame> resolve_uncached(std::uintptr_t return_address) {
    // The call instruction precedes the return address; resolving the return address itself
    // can name the next line, or the next function after a call that does not return.
    const std::uintptr_t pc = return_address - 1;
    Frame base;
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(pc), &info) != 0) {
      if (info.dli_fname != nullptr) base.module = info.dli_fname;
      base.module_offset = pc - reinterpret_cast<std::uintptr_t>(info.dli_fbase);
      base.function = demangle(info.dli_sname);
    }
    backward::ResolvedTrace trace(backward::Trace(reinterpret_cast<void*>(pc), 0));
    trace = resolver().resolve(trace);
    if (!trace.object_filename.empty()) base.module = trace.object_filename;
    if (!trace.object_function.empty()) base.function = trace.object_function;

    // backward lists inlined subroutines innermost first, each with the call site in the
    // function it was inlined into; source is the innermost code location.
    std::vector<Frame> frames;
    const auto& inl = trace.inliners;
    const backward::ResolvedTrace::SourceLoc* location = &trace.source;
    for (const auto& callee : inl) {
      Frame f = base;
      f.function = callee.function;
      f.filename = location->filename;
      f.lineno = static_cast<int>(location->line);
      f.inlined = true;
      frames.push_back(std::move(f));
      location = &callee;
    }
    Frame outer = base;
    if (outer.function.empty()) outer.function = trace.source.function;
    outer.filename = location->filename;
    outer.lineno = static_cast<int>(location->line);
    frames.push_back(std::move(outer));
    return frames;
  }

  std::unordered_map<std::uintptr_t, std::vector<Frame>> cache_;
  std::unique_ptr<backward::TraceResolver> resolver_;
  LoadGeneration generation_;
};

ForkSafeMutex g_mutex;
Symbolizer* g_symbolizer = nullptr;  // never destroyed: reports may be made during exit

}  // namespace

std::vector<Frame> symbolize_stack(const std::uintptr_t* addresses, std::size_t n) {
  UntracedScope untraced;
  const bool forked_mid_update = g_mutex.lock_and_check_fork();
  std::lock_guard<ForkSafeMutex> lock(g_mutex, std::adopt_lock);
  // A fork child whose parent was symbolizing abandons the half-updated symbolizer.
  if (forked_mid_update || g_symbolizer == nullptr) g_symbolizer = new Symbolizer;
  std::vector<Frame> frames;
  frames.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<Frame> expanded = g_symbolizer->resolve(addresses[i]);
    for (Frame& f : expanded) frames.push_back(std::move(f));
  }
  return frames;
}

std::size_t symbolizer_cache_size() {
  std::lock_guard<ForkSafeMutex> lock(g_mutex);
  return g_symbolizer != nullptr ? g_symbolizer->size() : 0;
}

}  // namespace leakguard::detail
