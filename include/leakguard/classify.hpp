// Leak classification: which blocks allocated since a checkpoint and still alive are lost, and
// which are still held. This is the rule the test plugins apply by default.
//
//   leakguard::Checkpoint start;
//   run_the_test();
//   leakguard::Classification c = leakguard::classify_survivors(start);
//   for (const auto& s : c.survivors) if (s.kind != leakguard::SurvivorKind::kHeld) ...
//
// What is scanned, conservatively (any aligned word that points into a block counts; one past
// its end does not, as in LSan: that is the next chunk's header), in-process and without
// stopping other threads:
//   - roots: every private readable and writable mapping of /proc/self/maps, which covers the
//     writable data of every loaded module, every thread's stack and static TLS, the main
//     thread's TLS, glibc's cached thread stacks and any custom mmap pool; and the chunks of the
//     malloc heap in use that are not traced blocks, which covers blocks allocated before tracing
//     started and allocator metadata. Free chunks are skipped: the heap is walked chunk by chunk
//     from each traced block, glibc's fast bins are consolidated first (malloc_trim), and a chunk
//     in a thread's tcache is known by the mark glibc (2.34 and later) writes in it. Whatever
//     does not parse as glibc's chunks is scanned whole.
//     The calling thread's registers are spilled onto its stack first; its stack is scanned from
//     its caller's frame up.
//   - then every traced block reachable from those roots, transitively.
// Not scanned: the registers of other threads (a pointer held only in one may be missed), the
// tracer's own tables (mapped apart from the heap), memory mapped without write permission, the
// bookkeeping of each glibc arena (its fields up to `next`: `last_remainder` goes on naming a split
// chunk after that memory is handed out inside a bigger block, and `top` and the bins name free
// chunks by their header, which overlaps the last word of the block before them when that block
// fills its chunk: 24, 40, ..., 200 bytes), and the frames and TLS of threads that are gone:
//   - A thread that has exited leaves its stack mapping behind (glibc caches it for the next
//     thread), and the copies of addresses in its dead frames and TLS made whatever it dropped
//     look held. Such a stack is recognised by glibc's thread descriptor at its top (x86_64: the
//     TCB's `tcb` and `self` words name it) with a tid of 0 or less, glibc's own test for a stack
//     it may reuse: the kernel clears the tid when the thread exits and pthread_join sets -1,
//     while no thread ever runs with it unset (the kernel writes it before the thread's first
//     instruction). Only when glibc made the stack itself (`user_stack` false: nothing but that
//     thread's frames and TLS lies below the descriptor) and the mapping sits right above a guard
//     page (no neighbour merged into it) are the frames and TLS skipped; the descriptor itself is
//     still scanned (the TLS vector, a joinable thread's result, the argument of a thread being
//     started on that stack), and if a thread was started on the stack by the end of the scan,
//     the rest of it is scanned too. The offsets of `tid` and `user_stack` are learnt from the
//     initial thread's own descriptor; when they cannot be, every stack is scanned whole. This
//     needs no list of live threads (a live thread the tracer never saw is scanned as before),
//     and costs a read of 4 KiB per anonymous mapping above a guard page, only when something
//     survives.
// The scan itself takes no memory from the malloc heap.
//
// Stale stack words at the checkpoint. The commonest way a lost block looked held: a frame that
// stays live across the window (the test framework's, above the listener that opens it) keeps a
// dangling copy of a small chunk freed just before the window, and the tcache, last in first out,
// hands that very chunk to the window's first allocation of that size. So a Checkpoint reads the
// calling thread's stack from its own frame up (at most 256 KiB) for words naming a chunk in that
// thread's tcache (glibc 2.34+ marks those), takes those chunks out of the tcache (malloc of their
// size, at most 16 tries a size, the chunks not named going back in their order) and keeps them,
// zeroed, until it is destroyed: no block of the window can be at an address a stale word names.
// It removes no root and skips no word, so it cannot make a held block look lost; it only changes
// which addresses the window's allocations get (at most 32 chunks, of 1 KiB at most). Only words
// that could name a chunk are looked at: not into the thread's stack or the executable's image,
// not below the lowest address glibc's heaps can have, and not the start of a block the thread's
// trace table holds live. Chunks
// freed into the fast bins or bigger bins, stale words on other threads' stacks or in the heap,
// and frees inside the window are not covered.
// Ignoring, at classification, stack words left unchanged since the checkpoint (a word written
// before a block existed cannot name it) is not sound, and is not done: an unchanged word can be
// the only reference to a block of the window, when the variable was stored again with a
// recycled address (`p = new T` where p held the same freed address, as the tcache makes likely)
// or when realloc grew a block in place (a new block of the window at the old address), and no
// write can be seen from the words' values alone.
// Every uncertainty errs toward "held": stale data can only make a lost block look held, never
// the other way round. Stale data remains in unused slots of live stack frames and in the unused
// parts of live chunks (the tracer's own caches among them). So a lost block is sometimes reported
// held; the repeated-run rule still catches a leak that recurs. If some root cannot be read,
// every survivor is reported held and `notes` says why.
//
// Cost: a checkpoint stops no thread (each thread's table learns of the window at its next
// allocation); it reads its thread's stack above it and probes the distinct words that may name
// chunks (one system call per 8 reads; words close together share a read). Classifying, when
// nothing of the window survives (the common case), is a sum over threads read without stopping
// them, whatever the size of the heap (a sum above zero is checked again with the threads
// stopped, which completes frees other threads queued); only when a block survives does it copy
// the live blocks' addresses and scan the roots and the reachable heap.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "leakguard/export.hpp"
#include "leakguard/traceback.hpp"

namespace leakguard {

// Which frames of the calling thread's stack classify_survivors() takes as roots.
enum class StackRoots {
  // Every live frame above the classifier's caller. For a window closed in the frame that opened
  // it (EXPECT_NO_LEAK around a statement): that frame's live pointers may sit in registers that
  // the frames below it saved.
  kAllFrames,
  // Only the frames that were live at the checkpoint too, from the deepest one the two stacks
  // share upward. For a window a test framework opens and closes around a test body that has
  // returned in between (a listener's per-test check): the framework calls the end check through
  // frames it built after the body returned, over the body's dead frames, and the slots those
  // frames never write still hold the body's words. Catch2 v3's MultiReporter::sectionEnded kept
  // a leaked block's address that way, and the leak read as held. Those frames are the
  // framework's dispatch and leakguard's own; what they hold of the test's is stale. When the two
  // stacks cannot be matched (no frame in common, a frame the walk cannot step) every frame is
  // scanned, as with kAllFrames.
  kSharedFrames,
};

// The start of a window: blocks allocated from now on carry the window's id. A later checkpoint
// starts a new window inside this one; classifying against this one still covers both. Tracing
// must be on (std::logic_error otherwise).
class LEAKGUARD_API Checkpoint {
 public:
  Checkpoint();
  explicit Checkpoint(StackRoots roots);
  ~Checkpoint();
  Checkpoint(Checkpoint&&) noexcept;
  Checkpoint& operator=(Checkpoint&&) noexcept;

  // False when no block allocated since this checkpoint is alive, so classify_survivors() would
  // find nothing. Costs a sum over threads, whatever the heap's size; it may say true for blocks
  // another thread freed a moment ago.
  bool may_have_survivors() const noexcept;

  struct State;

 private:
  std::unique_ptr<State> state_;
  friend struct Classifier;
};

enum class SurvivorKind {
  kDirectLeak,    // nothing reachable points to it, nor does any other lost block
  kIndirectLeak,  // nothing reachable points to it; only lost blocks do
  kHeld,          // reachable: a cache, a static, a member of a live object
};
LEAKGUARD_API const char* to_string(SurvivorKind kind);

struct Survivor {
  std::uintptr_t address = 0;
  std::size_t size = 0;
  SurvivorKind kind = SurvivorKind::kHeld;
  Traceback traceback;
  bool ignored = false;  // ignore_object() named it: held, and no test's growth either
};

struct Classification {
  // Direct leaks, then indirect leaks, then held blocks; largest first within each.
  std::vector<Survivor> survivors;
  std::size_t definite_bytes = 0;  // direct and indirect
  std::size_t definite_blocks = 0;
  std::size_t held_bytes = 0;
  std::size_t held_blocks = 0;
  std::vector<std::string> notes;  // roots that could not be scanned, and what that did
};

// The heap blocks allocated since `since` and still alive, each classified.
LEAKGUARD_API Classification classify_survivors(const Checkpoint& since);

// The traced block holding p (its start or any byte inside it) is never reported as a leak, and
// neither is anything reachable from it, as LSan's __lsan_ignore_object. For an object that is
// lost on purpose. The block itself does not count as a test's growth either (strict mode, net
// budgets, repeated runs). Returns false when no traced block holds p.
LEAKGUARD_API bool ignore_object(const void* p);

}  // namespace leakguard
