// The loaded ELF modules, as the stack walker needs them: where their code is, where their
// unwind tables are, and whether their frames can be trusted to keep frame pointers.
#pragma once
#include <cstdint>

namespace leakguard::detail {

struct Module {
  std::uintptr_t text_lo;
  std::uintptr_t text_hi;
  std::uintptr_t bias;                 // load address added to the file's virtual addresses
  const std::uint8_t* eh_frame_hdr;    // PT_GNU_EH_FRAME, or null
  bool fp_trusted;                     // built with frame pointers: the walker may follow them
};

// How the walker treats frames (LEAKGUARD_UNWIND): kFramePointers trusts the frame-pointer chain
// everywhere except in system libraries (/lib, /usr/lib), which are stepped with their CFI;
// kCfi steps every frame that has CFI, which also repairs code built without frame pointers
// inside the executable, at roughly twice the cost per frame.
enum class UnwindMode { kFramePointers, kCfi };
void set_unwind_mode(UnwindMode mode) noexcept;

// Rebuilds the module list (reads dl_iterate_phdr). Never call it with a tracer lock held or with
// the world stopped: a stopped thread may hold the loader's lock.
void refresh_modules() noexcept;
// The module containing pc, or null. An unknown pc triggers a refresh if modules were loaded or
// unloaded since the last one.
const Module* find_module(std::uintptr_t pc) noexcept;
// The main executable's code, when the walker may follow its frame pointers without looking up
// a rule (UnwindMode::kFramePointers); empty otherwise. Read once per walk.
struct CodeRange {
  std::uintptr_t lo = 0;
  std::uintptr_t size = 0;
  bool contains(std::uintptr_t pc) const noexcept { return pc - lo < size; }
};
CodeRange trusted_executable() noexcept;

}  // namespace leakguard::detail
