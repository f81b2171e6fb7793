#include "modules.hpp"

#include <elf.h>
#include <link.h>

#include <atomic>
#include <cstring>

#include "raw_memory.hpp"

namespace leakguard::detail {
namespace {

struct ModuleMap {
  std::size_t count;
  unsigned long long adds;
  unsigned long long subs;
  Module modules[1];  // sorted by text_lo
};

std::atomic<ModuleMap*> g_map{nullptr};
std::atomic<std::uintptr_t> g_exe_lo{0};
std::atomic<std::uintptr_t> g_exe_hi{0};
std::atomic<UnwindMode> g_mode{UnwindMode::kFramePointers};

bool is_system_path(const char* path) {
  static const char* const kPrefixes[] = {"/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/",
                                          "linux-vdso", "linux-gate"};
  for (const char* prefix : kPrefixes) {
    if (std::strncmp(path, prefix, std::strlen(prefix)) == 0) return true;
  }
  return false;
}

struct Collector {
  ModuleMap* map;
  std::size_t capacity;
  bool counting;
  std::size_t seen;
};

int collect(dl_phdr_info* info, size_t, void* data) {
  auto* c = static_cast<Collector*>(data);
  if (c->counting) {
    ++c->seen;
    return 0;
  }
  if (c->map->count == c->capacity) return 1;
  c->map->adds = info->dlpi_adds;
  c->map->subs = info->dlpi_subs;
  Module m{};
  m.bias = info->dlpi_addr;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) != 0) {
      const std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
      if (m.text_hi == 0 || lo < m.text_lo) m.text_lo = lo;
      if (lo + ph.p_memsz > m.text_hi) m.text_hi = lo + ph.p_memsz;
    } else if (ph.p_type == PT_GNU_EH_FRAME) {
      m.eh_frame_hdr = reinterpret_cast<const std::uint8_t*>(info->dlpi_addr + ph.p_vaddr);
    }
  }
  if (m.text_hi == 0) return 0;
  const char* name = info->dlpi_name != nullptr ? info->dlpi_name : "";
  const bool is_executable = c->map->count == 0 && name[0] == '\0';
  m.fp_trusted = g_mode.load(std::memory_order_relaxed) == UnwindMode::kFramePointers &&
                 !is_system_path(name);
  if (is_executable && m.fp_trusted) {
    g_exe_lo.store(m.text_lo, std::memory_order_relaxed);
    g_exe_hi.store(m.text_hi, std::memory_order_relaxed);
  }
  // Insertion sort: module counts are small.
  std::size_t i = c->map->count++;
  while (i > 0 && c->map->modules[i - 1].text_lo > m.text_lo) {
    c->map->modules[i] = c->map->modules[i - 1];
    --i;
  }
  c->map->modules[i] = m;
  return 0;
}

struct Generation {
  unsigned long long adds = 0, subs = 0;
};
int read_generation(dl_phdr_info* info, size_t, void* data) {
  auto* g = static_cast<Generation*>(data);
  g->adds = info->dlpi_adds;
  g->subs = info->dlpi_subs;
  return 1;
}

}  // namespace

void set_unwind_mode(UnwindMode mode) noexcept {
  g_mode.store(mode, std::memory_order_relaxed);
  if (mode == UnwindMode::kCfi) {
    g_exe_lo.store(0, std::memory_order_relaxed);
    g_exe_hi.store(0, std::memory_order_relaxed);
  }
  refresh_modules();
}


void refresh_modules() noexcept {
  Collector counter{nullptr, 0, true, 0};
  dl_iterate_phdr(collect, &counter);
  const std::size_t capacity = counter.seen + 16;
  const std::size_t bytes = sizeof(ModuleMap) + capacity * sizeof(Module);
  auto* map = static_cast<ModuleMap*>(raw_alloc(bytes));
  if (map == nullptr) return;
  Collector filler{map, capacity, false, 0};
  dl_iterate_phdr(collect, &filler);
  // Old maps stay mapped: a walker on another thread may still be reading one. Reloads only
  // happen after dlopen/dlclose, so the waste is bounded by their number. Publishing is one
  // atomic store and takes no lock: this runs on the allocation path (a walk that meets code
  // loaded since the last refresh), where a lock could be left held by a fork or re-entered by a
  // signal handler. Two racing refreshes may publish the older map last; the next walk that
  // meets the missing module sees the loader's generation moved on and refreshes again.
  g_map.store(map, std::memory_order_release);
}

const Module* find_module(std::uintptr_t pc) noexcept {
  for (int attempt = 0; attempt < 2; ++attempt) {
    const ModuleMap* map = g_map.load(std::memory_order_acquire);
    if (map != nullptr) {
      std::size_t lo = 0, hi = map->count;
      while (lo < hi) {
        const std::size_t mid = (lo + hi) / 2;
        if (map->modules[mid].text_hi <= pc) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      if (lo < map->count && map->modules[lo].text_lo <= pc) return &map->modules[lo];
    }
    if (attempt == 1) break;
    Generation now;
    dl_iterate_phdr(read_generation, &now);
    if (map != nullptr && now.adds == map->adds && now.subs == map->subs) break;
    refresh_modules();
  }
  return nullptr;
}

CodeRange trusted_executable() noexcept {
  const std::uintptr_t lo = g_exe_lo.load(std::memory_order_relaxed);
  return CodeRange{lo, g_exe_hi.load(std::memory_order_relaxed) - lo};
}

}  // namespace leakguard::detail
