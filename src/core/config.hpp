// Compiler helpers shared by leakguard's internals. Not part of the public API.
#pragma once

#define LG_ALWAYS_INLINE inline __attribute__((always_inline))
#define LG_NOINLINE __attribute__((noinline))
#define LG_LIKELY(x) __builtin_expect(!!(x), 1)
#define LG_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LG_HIDDEN __attribute__((visibility("hidden")))
// The address of the calling function's frame record; interposers pass it to the stack walker so
// the walk starts at their caller and no leakguard frame is ever recorded.
#define LG_CURRENT_FRAME() reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0))

#if defined(__x86_64__)
#define LG_CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define LG_CPU_RELAX() asm volatile("yield" ::: "memory")
#else
#define LG_CPU_RELAX() ((void)0)
#endif
