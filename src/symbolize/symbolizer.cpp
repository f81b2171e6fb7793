#include "symbolizer.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/fork_safe_mutex.hpp"
#include "core/modules.hpp"
#include "core/tracer.hpp"
#include "dwarf_module.hpp"

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

// The DWARF reader, libleakguard_symbolize.so, loaded at the first report (see dwarf_module.hpp).
// Looked for, in order: $LEAKGUARD_SYMBOLIZER; beside the object holding this code (the shared
// core's directory); where this build put it; where it installs; by name through the dynamic
// loader's search path (LD_LIBRARY_PATH, the program's RUNPATH, ld.so.cache).
// The module's file name, as the build made it (src/CMakeLists.txt).
constexpr const char kDwarfModuleName[] = LEAKGUARD_SYMBOLIZER_FILE_NAME;

struct DwarfModule {
  void* (*open)() = nullptr;
  void (*close)(void*) = nullptr;
  void (*resolve)(void*, std::uintptr_t, const LeakguardDwarfSink*) = nullptr;
  explicit operator bool() const { return resolve != nullptr; }
};

std::string directory_of_this_code() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&directory_of_this_code), &info) == 0 || info.dli_fname == nullptr) return {};
  const std::string path = info.dli_fname;
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string{} : path.substr(0, slash + 1);
}

bool load_from(const std::string& path, DwarfModule* m, std::string* problem) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    *problem = why != nullptr ? why : path + ": cannot be loaded";
    return false;
  }
  DwarfModule found;
  found.open = reinterpret_cast<void* (*)()>(dlsym(handle, "leakguard_dwarf_open_v1"));
  found.close = reinterpret_cast<void (*)(void*)>(dlsym(handle, "leakguard_dwarf_close_v1"));
  found.resolve = reinterpret_cast<void (*)(void*, std::uintptr_t, const LeakguardDwarfSink*)>(
      dlsym(handle, "leakguard_dwarf_resolve_v1"));
  if (found.open == nullptr || found.close == nullptr || found.resolve == nullptr) {
    *problem = path + ": not a leakguard symbolizer of this version (no leakguard_dwarf_*_v1)";
    dlclose(handle);
    return false;
  }
  *m = found;
  return true;
}

// Never fails silently: a module named by the environment that does not load is reported and
// the defaults are tried; if none loads, reports keep the symbol names of the dynamic symbol
// table, without files and lines, and say so once.
DwarfModule load_dwarf_module() {
  DwarfModule m;
  std::string problem;
  if (const char* env = std::getenv("LEAKGUARD_SYMBOLIZER"); env != nullptr && *env != '\0') {
    if (load_from(env, &m, &problem)) return m;
    std::fprintf(stderr, "leakguard: LEAKGUARD_SYMBOLIZER='%s' cannot be used (%s); trying the default places\n", env,
                 problem.c_str());
  }
  std::string candidates[] = {directory_of_this_code() + kDwarfModuleName, LEAKGUARD_SYMBOLIZER_BUILD_PATH,
                              LEAKGUARD_SYMBOLIZER_INSTALL_PATH, kDwarfModuleName};
  std::string first_problem;
  for (const std::string& path : candidates) {
    if (path.empty() || (path.find('/') != std::string::npos && access(path.c_str(), F_OK) != 0)) continue;
    if (load_from(path, &m, &problem)) return m;
    if (first_problem.empty()) first_problem = problem;
  }
  if (first_problem.empty()) {
    // The last candidate, by name, was tried and failed: its message says what the loader saw.
    first_problem = problem.empty() ? std::string(kDwarfModuleName) + ": not found" : problem;
  }
  std::fprintf(stderr,
               "leakguard: cannot load the symbolizer (%s); reports name functions without files and lines. "
               "Set LEAKGUARD_SYMBOLIZER to the path of %s.\n",
               first_problem.c_str(), kDwarfModuleName);
  return m;
}

// What one address resolved to, gathered from the module's callbacks.
struct Resolved {
  struct Location {
    std::string function, filename;
    unsigned line = 0;
  };
  std::string object_filename, object_function;
  std::vector<Location> locations;  // the code at the address, then its inlined call sites

  static std::string text(const char* s) { return s != nullptr ? std::string(s) : std::string(); }
  static void on_object(void* self, const char* filename, const char* function) {
    auto* r = static_cast<Resolved*>(self);
    r->object_filename = text(filename);
    r->object_function = text(function);
  }
  static void on_location(void* self, const char* function, const char* filename, unsigned line) {
    static_cast<Resolved*>(self)->locations.push_back({text(function), text(filename), line});
  }
};

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
  void* resolver() {
    if (!tried_) {
      tried_ = true;
      module_ = load_dwarf_module();
    }
    if (!module_) return nullptr;
    // libdw learns the module list once; modules loaded after that need a fresh resolver. Read
    // after the module's own loading, which adds modules too.
    LoadGeneration now;
    walk_loaded_modules(read_generation, &now);
    if (resolver_ == nullptr || now.adds != generation_.adds || now.subs != generation_.subs) {
      if (resolver_ != nullptr) module_.close(resolver_);
      resolver_ = module_.open();
      generation_ = now;
    }
    return resolver_;
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
    Resolved trace;
    if (void* r = resolver()) {
      const LeakguardDwarfSink sink{&trace, &Resolved::on_object, &Resolved::on_location};
      module_.resolve(r, pc, &sink);
    }
    if (!trace.object_filename.empty()) base.module = trace.object_filename;
    if (!trace.object_function.empty()) base.function = trace.object_function;
    if (trace.locations.empty()) return {base};

    // Each inlined callee is a frame at the location it contains (the code at the address, or
    // the call site of the callee inlined into it); the function that physically contains the
    // address comes last, at the outermost call site.
    std::vector<Frame> frames;
    const std::vector<Resolved::Location>& loc = trace.locations;
    for (std::size_t i = 1; i < loc.size(); ++i) {
      Frame f = base;
      f.function = loc[i].function;
      f.filename = loc[i - 1].filename;
      f.lineno = static_cast<int>(loc[i - 1].line);
      f.inlined = true;
      frames.push_back(std::move(f));
    }
    Frame outer = base;
    if (outer.function.empty()) outer.function = loc[0].function;
    outer.filename = loc.back().filename;
    outer.lineno = static_cast<int>(loc.back().line);
    frames.push_back(std::move(outer));
    return frames;
  }

  std::unordered_map<std::uintptr_t, std::vector<Frame>> cache_;
  bool tried_ = false;
  DwarfModule module_;
  void* resolver_ = nullptr;
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
