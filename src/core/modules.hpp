// The loaded ELF modules, as the stack walker needs them: where their unwind tables are, and
// whether their frames can be trusted to keep frame pointers.
#pragma once
#include <link.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace leakguard::detail {

struct Module {
  const std::uint8_t* eh_frame_hdr;  // PT_GNU_EH_FRAME, or null
  bool fp_trusted;                   // built with frame pointers: the walker may follow them
};

// How the walker treats frames (LEAKGUARD_UNWIND): kFramePointers trusts the frame-pointer chain
// everywhere except in system libraries (/lib, /usr/lib), which are stepped with their CFI;
// kCfi steps every frame that has CFI, which also repairs code built without frame pointers
// inside the executable, at roughly twice the cost per frame.
enum class UnwindMode { kFramePointers, kCfi };
void set_unwind_mode(UnwindMode mode) noexcept;

// The module containing pc, looked up in the loader's own index (_dl_find_object), which takes
// no lock and so leaves nothing held for a fork or a signal handler: the allocation path calls
// it (once per new return address, behind the walker's rule caches), and a module loaded with
// dlopen() after the start is found like any other. False when no module contains pc.
bool find_module(std::uintptr_t pc, Module* out) noexcept;

// The main executable's code, when the walker may follow its frame pointers without looking up
// a rule (UnwindMode::kFramePointers); empty otherwise. Read once per walk; learnt at start().
struct CodeRange {
  std::uintptr_t lo = 0;
  std::uintptr_t size = 0;
  bool contains(std::uintptr_t pc) const noexcept { return pc - lo < size; }
};
void learn_executable() noexcept;
// Inline: every traced allocation's walk reads it, and an out-of-line call in the middle of the
// walk cost ~4 ns a pair (the walk's state kept in registers across it). The two values are
// stored apart, at start(); a walk racing a start may see them torn, and then at worst follows
// frame pointers where it should have used CFI: every read stays within the thread's stack.
extern std::atomic<std::uintptr_t> g_exe_lo;
extern std::atomic<std::uintptr_t> g_exe_size;
inline CodeRange trusted_executable() noexcept {
  return CodeRange{g_exe_lo.load(std::memory_order_relaxed), g_exe_size.load(std::memory_order_relaxed)};
}

// dl_iterate_phdr, for every walk of the loader's list leakguard makes (never on the allocation
// path): dl_iterate_phdr holds the loader's list lock throughout, and glibc does not reset that
// lock in a fork child, so a fork that copied a walk under way left a child whose next walk hung.
// Under this wrapper a fork waits for the walk to end. Never call it with a tracer lock held or
// with the world stopped: a stopped thread may be inside a walk of its own, holding the loader's
// lock.
int walk_loaded_modules(int (*callback)(dl_phdr_info*, std::size_t, void*), void* data) noexcept;
// world.cpp's fork handlers: the walk lock is taken first, before every tracer lock.
void modules_fork_prepare() noexcept;
void modules_fork_parent() noexcept;
void modules_fork_child() noexcept;

}  // namespace leakguard::detail
