#include "modules.hpp"

#include <dlfcn.h>
#include <elf.h>
#include <sys/auxv.h>

#include <atomic>
#include <cstring>

#include "spinlock.hpp"

// The stack walker looks modules up with _dl_find_object (glibc 2.35).
#if !defined(__GLIBC__) || __GLIBC__ < 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ < 35)
#error "leakguard needs glibc 2.35 or newer (_dl_find_object)"
#endif

namespace leakguard::detail {
std::atomic<std::uintptr_t> g_exe_lo{0};
std::atomic<std::uintptr_t> g_exe_size{0};

namespace {

std::atomic<UnwindMode> g_mode{UnwindMode::kFramePointers};

// Every walk of the loader's list leakguard makes runs under this lock, which the fork's prepare
// handler takes. See walk_loaded_modules().
SpinLock g_walk_lock;

bool is_system_path(const char* path) {
  static const char* const kPrefixes[] = {"/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/",
                                          "linux-vdso", "linux-gate"};
  for (const char* prefix : kPrefixes) {
    if (std::strncmp(path, prefix, std::strlen(prefix)) == 0) return true;
  }
  return false;
}

}  // namespace

void set_unwind_mode(UnwindMode mode) noexcept {
  g_mode.store(mode, std::memory_order_relaxed);
  learn_executable();
}

// From the auxiliary vector, which the kernel wrote and nothing locks: the executable's program
// headers, and from them its code.
void learn_executable() noexcept {
  std::uintptr_t lo = 0, hi = 0;
  const auto* phdrs = reinterpret_cast<const ElfW(Phdr)*>(getauxval(AT_PHDR));
  const auto count = static_cast<std::size_t>(getauxval(AT_PHNUM));
  if (phdrs != nullptr && g_mode.load(std::memory_order_relaxed) == UnwindMode::kFramePointers) {
    std::uintptr_t bias = 0;
    for (std::size_t i = 0; i < count; ++i) {
      if (phdrs[i].p_type == PT_PHDR) bias = reinterpret_cast<std::uintptr_t>(phdrs) - phdrs[i].p_vaddr;
    }
    for (std::size_t i = 0; i < count; ++i) {
      const ElfW(Phdr)& ph = phdrs[i];
      if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
      const std::uintptr_t seg_lo = bias + ph.p_vaddr;
      if (hi == 0 || seg_lo < lo) lo = seg_lo;
      if (seg_lo + ph.p_memsz > hi) hi = seg_lo + ph.p_memsz;
    }
  }
  g_exe_lo.store(lo, std::memory_order_relaxed);
  g_exe_size.store(hi - lo, std::memory_order_relaxed);
}

bool find_module(std::uintptr_t pc, Module* out) noexcept {
  dl_find_object found{};
  if (_dl_find_object(reinterpret_cast<void*>(pc), &found) != 0) return false;
  const char* name = "";
  if (found.dlfo_link_map != nullptr && found.dlfo_link_map->l_name != nullptr) {
    name = found.dlfo_link_map->l_name;
  }
  out->eh_frame_hdr = static_cast<const std::uint8_t*>(found.dlfo_eh_frame);
  out->fp_trusted = g_mode.load(std::memory_order_relaxed) == UnwindMode::kFramePointers && !is_system_path(name);
  return true;
}

int walk_loaded_modules(int (*callback)(dl_phdr_info*, std::size_t, void*), void* data) noexcept {
  SpinGuard guard(g_walk_lock);
  return dl_iterate_phdr(callback, data);
}
void modules_fork_prepare() noexcept { g_walk_lock.lock(); }
void modules_fork_parent() noexcept { g_walk_lock.unlock(); }
void modules_fork_child() noexcept { g_walk_lock.reset(); }

}  // namespace leakguard::detail
