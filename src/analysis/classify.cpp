// classify_survivors(): which blocks of a window are lost and which are held, by a conservative
// scan of the roots and the reachable heap (see classify.hpp for what is scanned and why).
#include "leakguard/classify.hpp"

#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <pthread.h>
#if __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>
#define LEAKGUARD_SINGLE_THREADED() (__libc_single_threaded != 0)
#else
#define LEAKGUARD_SINGLE_THREADED() false  // glibc before 2.32: always probe
#endif
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

#include "analysis/checkpoint_window.hpp"
#include "analysis/raw_array.hpp"
#include "core/modules.hpp"
#include "core/own_heap.hpp"
#include "core/real_alloc.hpp"
#include "core/tracer.hpp"
#include "leakguard/tracing.hpp"
#include "snapshot/raw_snapshot.hpp"

namespace leakguard {

namespace {

using detail::RawArray;
using detail::RawTrace;

// The live heap blocks, sorted by address, in mmap'ed memory. Returns how many there are.
std::size_t collect_heap(RawArray<RawTrace>* out) {
  std::size_t n = detail::tracer_collect_into(out->data(), out->size());
  while (n > out->size()) {
    out->resize(n + n / 8 + 1024);
    n = detail::tracer_collect_into(out->data(), out->size());
  }
  RawTrace* end = std::remove_if(out->begin(), out->begin() + n, [](const RawTrace& t) { return t.domain != 0; });
  std::sort(out->begin(), end, [](const RawTrace& a, const RawTrace& b) { return a.addr < b.addr; });
  return static_cast<std::size_t>(end - out->begin());
}

struct Region {
  std::uintptr_t lo, hi;
  char what[80];      // the mapping's path, or "anonymous"
  bool after_guard;   // anonymous, right above an inaccessible mapping: the shape of a thread stack
};

// Every readable and writable mapping but the kernel's own pages, read without the malloc heap:
// the scan reads the heap, and memory the scan itself took from it would hold stale data (a
// reused chunk's old contents) that it then counted as references.
// `text` holds the file; the caller keeps it (and `out`) until the scan is done, since the
// mappings listed include its own.
std::size_t writable_mappings(RawArray<char>& text, RawArray<Region>* out) {
  if (text.size() == 0) text.resize(64 * 1024);
  std::size_t length = 0;
  for (;;) {
    const int fd = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    length = 0;
    ssize_t got;
    while ((got = ::read(fd, text.data() + length, text.size() - length)) > 0) {
      length += static_cast<std::size_t>(got);
      if (length == text.size()) break;
    }
    ::close(fd);
    if (length < text.size()) break;
    text.resize(text.size() * 2);  // the file did not fit: read it again, whole
  }
  std::size_t n = 0;
  std::uintptr_t guard_hi = 0;  // where the last inaccessible anonymous mapping ended
  for (std::size_t at = 0; at < length;) {
    std::size_t eol = at;
    while (eol < length && text[eol] != '\n') ++eol;
    const std::string_view line(text.data() + at, eol - at);
    at = eol + 1;
    // lo-hi perms offset dev inode path
    std::size_t field = 0, pos = 0;
    std::string_view fields[6];
    while (field < 5 && pos < line.size()) {
      while (pos < line.size() && line[pos] == ' ') ++pos;
      const std::size_t begin = pos;
      while (pos < line.size() && line[pos] != ' ') ++pos;
      fields[field++] = line.substr(begin, pos - begin);
    }
    while (pos < line.size() && line[pos] == ' ') ++pos;
    const std::string_view path = line.substr(std::min(pos, line.size()));
    const std::string_view perms = fields[1];
    const std::size_t dash = fields[0].find('-');
    if (dash == std::string_view::npos) continue;
    Region r{};
    const std::string_view lo = fields[0].substr(0, dash), hi = fields[0].substr(dash + 1);
    if (std::from_chars(lo.data(), lo.data() + lo.size(), r.lo, 16).ec != std::errc() ||
        std::from_chars(hi.data(), hi.data() + hi.size(), r.hi, 16).ec != std::errc()) {
      continue;
    }
    const std::uintptr_t below_guard = guard_hi;
    guard_hi = perms.substr(0, 3) == "---" && path.empty() ? r.hi : 0;
    if (perms.size() < 2 || perms[0] != 'r' || perms[1] != 'w') continue;
    if (path == "[vvar]" || path == "[vsyscall]" || path == "[vdso]") continue;
    r.after_guard = path.empty() && below_guard == r.lo;
    const std::string_view what = path.empty() ? std::string_view("anonymous") : path;
    std::memcpy(r.what, what.data(), std::min(what.size(), sizeof r.what - 1));
    if (n == out->size()) {
      RawArray<Region> bigger(out->size() * 2 + 64);
      std::copy(out->begin(), out->begin() + n, bigger.begin());
      *out = std::move(bigger);
    }
    (*out)[n++] = r;
  }
  return n;
}

// Reads another part of this process's memory without faulting if it went away (a thread that
// exited, a block another thread freed): process_vm_readv fails where a plain load would crash.
bool read_memory(std::uintptr_t addr, void* buffer, std::size_t n) {
  iovec local{buffer, n};
  iovec remote{reinterpret_cast<void*>(addr), n};
  return process_vm_readv(detail::process_id(), &local, 1, &remote, 1, 0) == static_cast<ssize_t>(n);
}

}  // namespace

namespace {
std::uintptr_t tcache_key();
}  // namespace

// Chunks of the calling thread's tcache that a word of its live stack still names: taken out of
// glibc's hands for the window's lifetime (see "Stale stack words" in classify.hpp).
struct Quarantine {
  static constexpr std::size_t kMax = 32;
  void* chunks[kMax] = {};
  std::size_t count = 0;

  Quarantine() = default;
  Quarantine(const Quarantine&) = delete;
  Quarantine& operator=(const Quarantine&) = delete;
  ~Quarantine() {
    for (std::size_t i = count; i-- > 0;) __libc_free(chunks[i]);
  }
  void take_named_from(std::uintptr_t sp);
};

// The calling thread's frames at one moment (StackRoots::kSharedFrames): each return address
// with the slot it was read from. A frame live at two moments has the same pair at both: where it
// returns to, stored at the same place.
struct FrameWalk {
  static constexpr std::uint32_t kMax = 64;  // a check's own frames and the framework's, ~15-30
  std::uint32_t count = 0;
  std::uintptr_t ra[kMax];
  std::uintptr_t slot[kMax];
  void take(std::uintptr_t entry_fp) { count = detail::tracer_walk_return_slots(entry_fp, kMax, ra, slot); }
};

struct Checkpoint::State {
  std::uint64_t window = 0;  // the trace table's window this checkpoint began
  std::uint64_t wraps = 0;   // how often window ids had wrapped then
  Quarantine quarantine;
  StackRoots roots = StackRoots::kAllFrames;
  FrameWalk frames;  // kSharedFrames: the frames at the checkpoint
};

Checkpoint::Checkpoint() : Checkpoint(StackRoots::kAllFrames) {}

__attribute__((noinline)) Checkpoint::Checkpoint(StackRoots roots) {
  if (!is_tracing()) throw std::logic_error("leakguard::Checkpoint: tracing is off; start it first");
  detail::UntracedScope untraced;
  state_ = std::make_unique<State>();
  const auto here = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  state_->roots = roots;
  if (roots == StackRoots::kSharedFrames) state_->frames.take(here);
  state_->quarantine.take_named_from(here);
  state_->window = detail::tracer_begin_window(&state_->wraps);
}
Checkpoint::~Checkpoint() = default;
bool Checkpoint::may_have_survivors() const noexcept {
  return detail::tracer_window_wraps() != state_->wraps || detail::tracer_window_blocks(state_->window) != 0;
}
Checkpoint::Checkpoint(Checkpoint&&) noexcept = default;
Checkpoint& Checkpoint::operator=(Checkpoint&&) noexcept = default;

namespace {
// Blocks ignore_object() named, by identity (an address alone could be reused by a later block).
struct IgnoredBlock {
  std::uintptr_t addr;
  std::uint64_t size;
  std::uint32_t stack_id;
};
std::mutex g_ignored_mutex;
std::vector<IgnoredBlock>* g_ignored = nullptr;  // never destroyed: checks may run at exit

std::vector<IgnoredBlock> ignored_blocks() {
  std::lock_guard<std::mutex> lock(g_ignored_mutex);
  return g_ignored != nullptr ? *g_ignored : std::vector<IgnoredBlock>{};
}
}  // namespace

bool ignore_object(const void* p) {
  detail::UntracedScope untraced;
  RawTrace block{};
  if (!is_tracing() || !detail::tracer_find_block(reinterpret_cast<std::uintptr_t>(p), &block)) return false;
  std::lock_guard<std::mutex> lock(g_ignored_mutex);
  if (g_ignored == nullptr) g_ignored = new std::vector<IgnoredBlock>;
  g_ignored->push_back(IgnoredBlock{block.addr, block.size, block.stack_id});
  return true;
}

const char* to_string(SurvivorKind kind) {
  switch (kind) {
    case SurvivorKind::kDirectLeak: return "direct leak";
    case SurvivorKind::kIndirectLeak: return "indirect leak";
    case SurvivorKind::kHeld: return "held";
  }
  return "?";
}

namespace {

// glibc (2.34 and later) marks a chunk in a thread's tcache with a random key in its second
// word, and clears it when the chunk is handed out again: the one sign that tells a cached free
// chunk from a live one. Learnt by freeing chunks of our own; 0 when that glibc does not do it.
std::uintptr_t tcache_key() {
  // A chunk freed into a tcache bin that is full goes to a fast bin instead and carries no mark:
  // each probe first takes a bin's cached chunks out (a tcache holds at most 7 of a size, by
  // default), so that the one chunk freed back certainly lands in the tcache.
  static const std::uintptr_t key = [] {
    constexpr int kTaken = 8;
    std::uintptr_t seen[2] = {0, 0};
    const std::size_t sizes[2] = {40, 72};
    for (int i = 0; i < 2; ++i) {
      // glibc's own: the probe runs in leakguard's code, whose blocks are in its own heap.
      void* taken[kTaken] = {};
      for (void*& p : taken) p = __libc_malloc(sizes[i]);  // malloc, not calloc: it takes from the tcache
      const auto addr = reinterpret_cast<std::uintptr_t>(taken[0]);
      if (taken[0] != nullptr) {
        std::memset(taken[0], 0, sizes[i]);  // no mark unless the free makes one
        __libc_free(taken[0]);
      }
      const bool read = taken[0] != nullptr && read_memory(addr + sizeof(std::uintptr_t), &seen[i], sizeof seen[i]);
      for (int k = 1; k < kTaken; ++k) __libc_free(taken[k]);
      if (!read) return std::uintptr_t{0};
    }
    return seen[0] == seen[1] ? seen[0] : std::uintptr_t{0};
  }();
  return key;
}

// glibc's arenas (struct malloc_state) hold allocator bookkeeping only, never a reference to a
// live block, yet some of it points into live blocks:
//   - `last_remainder`, the chunk split most recently for a small request: glibc leaves it as it
//     is when that chunk is later handed out whole or merged into a bigger one, so it may point
//     into the middle of a live block;
//   - `top`, the fast bins and the bins name free chunks by their header, and a free chunk's
//     header overlaps the last word of the block before it when that block uses its chunk whole
//     (a size of 16k+8 bytes: 24, 40, ..., 200): a 200-byte block just below the top chunk looked
//     held by `top`.
// So the scan skips every arena's fields up to `next` (the ring of arenas, which names no block).
// The main arena is found through a chunk freed into its unsorted bin, whose back link then
// names the bin's head inside the arena; the others through the arenas' `next` ring. The offsets
// are glibc's 64-bit layout since 2.27; the ring closing back on the main arena confirms them,
// and when it does not, nothing is skipped (the safe direction: a stale word can only hold).
constexpr std::uintptr_t kArenaTop = 96;             // mutex, flags, have_fastchunks, fastbinsY[10]
constexpr std::uintptr_t kArenaNext = 2160;          // after bins[254] and binmap[4]
constexpr std::size_t kMaxArenas = 64;

bool arena_ring_closes(std::uintptr_t main_arena) {
  std::uintptr_t arena = main_arena;
  for (std::size_t i = 0; i < 8 * kMaxArenas; ++i) {
    if (!read_memory(arena + kArenaNext, &arena, sizeof arena) || arena == 0) return false;
    if (arena == main_arena) return true;
  }
  return false;
}

std::uintptr_t main_arena() {
  static const std::uintptr_t found = [] {
    static_assert(sizeof(void*) == 8, "glibc's 64-bit arena layout");
    for (int attempt = 0; attempt < 4; ++attempt) {
      // Too big for a tcache or a fast bin; the neighbours keep it from merging into the top.
      // glibc's own blocks, as in tcache_key().
      void* before = __libc_malloc(4096);
      void* chunk = __libc_malloc(4096);
      void* after = __libc_malloc(4096);
      std::uintptr_t back_link = 0;
      const auto addr = reinterpret_cast<std::uintptr_t>(chunk);
      __libc_free(chunk);
      const bool read = chunk != nullptr && read_memory(addr + sizeof(std::uintptr_t), &back_link, sizeof back_link);
      __libc_free(after);
      __libc_free(before);
      if (read && back_link > kArenaTop && arena_ring_closes(back_link - kArenaTop)) return back_link - kArenaTop;
    }
    return std::uintptr_t{0};
  }();
  return found;
}

// Where each arena's bookkeeping lies, [lo, hi); how many arenas there are.
std::size_t arena_bookkeeping(std::array<std::uintptr_t, 2> (&out)[kMaxArenas]) {
  const std::uintptr_t first = main_arena();
  if (first == 0) return 0;
  std::size_t n = 0;
  std::uintptr_t arena = first;
  do {
    out[n++] = {arena, arena + kArenaNext};
    if (!read_memory(arena + kArenaNext, &arena, sizeof arena)) break;
  } while (arena != 0 && arena != first && n < kMaxArenas);
  return n;
}

// glibc's thread descriptor (struct pthread) at the top of a thread's stack mapping, as far as
// the scan reads it: x86_64 only, where the descriptor begins with the TCB, whose `tcb` and `self`
// words both hold its own address. The offsets of `tid` and `user_stack` are learnt from the
// calling thread's own descriptor, and only on the initial thread, whose `user_stack` glibc sets
// (its stack is not glibc's): specific[0] points 512 bytes back, at specific_1stblock, and the
// flags specific_used, report_events, user_stack follow specific[32]. Anything unexpected turns
// the rule off, and every stack is then scanned whole.
struct ThreadLayout {
  std::size_t tid = 0;         // 0: unknown
  std::size_t user_stack = 0;
};

ThreadLayout thread_layout() {
#if defined(__x86_64__)
  static std::atomic<int> learnt{0};  // 0: not yet, 1: known, -1: never
  static ThreadLayout layout;
  if (learnt.load() == 1) return layout;
  if (learnt.load() < 0 || getpid() != static_cast<pid_t>(syscall(SYS_gettid))) return {};
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  if (learnt.load() != 0) return learnt.load() == 1 ? layout : ThreadLayout{};
  constexpr std::size_t kSpan = 4096, kWord = sizeof(std::uintptr_t);
  const auto pd = static_cast<std::uintptr_t>(pthread_self());
  std::uintptr_t words[kSpan / kWord];
  learnt.store(-1);
  if (!read_memory(pd, words, sizeof words) || words[0] != pd || words[2] != pd) return {};
  std::size_t specific = 0;
  for (std::size_t o = 64 + 512; o + 33 * kWord < kSpan && specific == 0; o += kWord) {
    if (words[o / kWord] == pd + o - 512) specific = o;
  }
  if (specific == 0) return {};
  const int tid = static_cast<int>(syscall(SYS_gettid));
  std::size_t tid_at = 0;
  for (std::size_t o = 3 * kWord; o + sizeof(int) <= specific - 512 && tid_at == 0; o += sizeof(int)) {
    int v;
    std::memcpy(&v, reinterpret_cast<const char*>(words) + o, sizeof v);
    if (v == tid) tid_at = o;
  }
  const std::size_t user_stack = specific + 32 * kWord + 2;
  if (tid_at == 0 || reinterpret_cast<const unsigned char*>(words)[user_stack] != 1) return {};
  layout = ThreadLayout{tid_at, user_stack};
  learnt.store(1);
  return layout;
#else
  return {};
#endif
}

// Where the descriptor of a thread that is gone lies in `region`, or 0. Gone: its tid is 0 or
// less, glibc's own test for a stack it may reuse (FREE_P): the kernel clears it when the thread
// exits (CLONE_CHILD_CLEARTID) and pthread_join sets -1, while a thread runs only with its tid set
// (the kernel writes it, CLONE_PARENT_SETTID, before the thread first runs); and glibc
// made the stack itself (user_stack false), so nothing but that thread's frames and TLS lies
// below the descriptor. The mapping must sit right above a guard page, as glibc's stacks do, so
// that it is one stack and no neighbour merged into it.
std::uintptr_t dead_thread_descriptor(const Region& region, const ThreadLayout& layout) {
  constexpr std::uintptr_t kWord = sizeof(std::uintptr_t), kTail = 4096, kAlign = 64;
  if (layout.tid == 0 || !region.after_guard || region.hi - region.lo < 2 * kTail) return 0;
  std::uintptr_t tail[kTail / kWord];
  const std::uintptr_t base = region.hi - kTail;
  if (!read_memory(base, tail, sizeof tail)) return 0;
  for (std::uintptr_t pd = region.hi - kAlign; pd >= base; pd -= kAlign) {
    const std::size_t i = (pd - base) / kWord;
    if (i + 2 >= kTail / kWord || tail[i] != pd || tail[i + 2] != pd) continue;
    if (pd + layout.user_stack >= region.hi) return 0;
    int tid = -1;
    unsigned char user_stack = 1;
    if (!read_memory(pd + layout.tid, &tid, sizeof tid) || !read_memory(pd + layout.user_stack, &user_stack, 1)) {
      return 0;
    }
    return tid <= 0 && user_stack == 0 ? pd : 0;
  }
  return 0;
}

}  // namespace

// The top of the calling thread's stack, as far as its frames go: __libc_stack_end for the initial
// thread, and for another thread its descriptor, which glibc puts at the top of the thread's stack
// mapping, above its TLS and its frames (on x86_64). 0 when neither applies.
extern "C" void* __libc_stack_end;

namespace {
std::uintptr_t own_stack_top(std::uintptr_t sp) {
  const auto main_top = reinterpret_cast<std::uintptr_t>(__libc_stack_end);
  if (sp < main_top && main_top - sp < (std::uintptr_t{1} << 30)) return main_top;
#if defined(__x86_64__)
  const auto self = static_cast<std::uintptr_t>(pthread_self());
  if (sp < self && self - sp < (std::uintptr_t{1} << 30)) return self;
#endif
  return 0;
}
}  // namespace

// The main executable's loaded image (its PT_LOAD segments, lowest to highest): no malloc chunk
// lies inside it. Learnt once; the executable is never unloaded.
struct ImageRange {
  std::uintptr_t lo = 0, hi = 0;
};
ImageRange executable_image() {
  static const ImageRange image = [] {
    ImageRange r;
    detail::walk_loaded_modules(
        [](dl_phdr_info* info, std::size_t, void* out) {
          auto* range = static_cast<ImageRange*>(out);
          for (int k = 0; k < info->dlpi_phnum; ++k) {
            const ElfW(Phdr)& ph = info->dlpi_phdr[k];
            if (ph.p_type != PT_LOAD) continue;
            const std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr, hi = lo + ph.p_memsz;
            if (range->hi == 0 || lo < range->lo) range->lo = lo;
            if (hi > range->hi) range->hi = hi;
          }
          return 1;  // the first module listed is the executable
        },
        &r);
    return r;
  }();
  return image;
}

// Where the brk heap begins (the kernel's start_brk, field 47 of /proc/self/stat), or 0 if it
// cannot be read: looked up once, as it never moves. [start, sbrk(0)) is the one brk mapping, so
// it is readable as long as no other thread can move the break. The stat line is read into a
// buffer on the stack: the whole of /proc/self/maps, read into mapped buffers, cost the first
// checkpoint of a process about half a millisecond.
std::uintptr_t brk_heap_start() {
  static std::atomic<std::uintptr_t> start{1};  // 1: not looked up yet
  std::uintptr_t at = start.load(std::memory_order_relaxed);
  if (at != 1) return at;
  at = 0;
  char line[2048];
  std::size_t len = 0;
  const int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    for (ssize_t got; len < sizeof line && (got = ::read(fd, line + len, sizeof line - len)) != 0;) {
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) break;
      len += static_cast<std::size_t>(got);
    }
    ::close(fd);
  }
  // Fields after the command name, which may hold spaces and parentheses: the last ')' ends it,
  // and field 3 (the state) follows.
  const std::string_view stat(line, len);
  const std::size_t paren = stat.rfind(')');
  if (paren != std::string_view::npos && len < sizeof line) {
    std::size_t pos = paren + 1;
    for (int field = 3; field <= 47 && pos < stat.size(); ++field) {
      while (pos < stat.size() && stat[pos] == ' ') ++pos;
      const std::size_t end = std::min(stat.find(' ', pos), stat.size());
      if (field == 47) std::from_chars(stat.data() + pos, stat.data() + end, at);
      pos = end;
    }
  }
  start.store(at, std::memory_order_relaxed);
  return at;
}

// Reads the calling thread's stack from `sp` up (at most kStackWindow bytes) for words that name
// a chunk in its tcache, and takes those chunks out of it: malloc of that size hands them out
// (the tcache is LIFO: at most its bin's count of tries), the ones not named go back in the order
// they came out. What is kept is zeroed (it is scanned as a live untraced chunk) and freed with
// the checkpoint.
//
// The stack is read in place (it is this thread's own, live above this frame). A word is a
// candidate when it could be a chunk's user address: 16-aligned, in the user address range, not
// into this thread's stack nor into the executable's image, and not the start of a block this
// thread's trace table holds live (a live block is in no tcache). The candidates are sorted and
// made unique (a frame keeps the same pointer in several slots), and each one's header and
// second word are read with process_vm_readv (the word may name anything, even unmapped memory):
// candidates close together share one read, and a call takes at most 8 reads, as longer lists
// cost more than linearly. In a process that never had a second thread they are read in place
// instead, as the scan meets them (see the loop).
void Quarantine::take_named_from(std::uintptr_t sp) {
  constexpr std::size_t kStackWindow = 256 * 1024;
  constexpr std::uintptr_t kWord = sizeof(std::uintptr_t);
  constexpr std::uintptr_t kMaxTcacheChunk = 1040;  // glibc's 64 bins: chunks of 32..1040 bytes
  constexpr int kTries = 16;                         // glibc keeps 7 chunks a bin unless tuned
  const std::uintptr_t key = tcache_key();
  const std::uintptr_t top = own_stack_top(sp);
  if (key == 0 || top <= sp) return;
  const std::uintptr_t lo = sp & ~(kWord - 1);
  const std::uintptr_t hi = std::min<std::uintptr_t>(top, lo + kStackWindow) & ~(kWord - 1);
  // The initial thread's stack is the highest mapping but the kernel's vdso pages: nothing above
  // its frames (its arguments, environment, auxiliary vector) is a chunk.
  const bool initial_thread = top == reinterpret_cast<std::uintptr_t>(__libc_stack_end);
  const std::uintptr_t not_above = initial_thread ? lo : hi;
  const ImageRange image = executable_image();
  // glibc's heaps lie above the executable (the brk heap follows it) or in the mmap area, which
  // starts at a third of the address space in the legacy layout and near its top otherwise: a
  // word below both is an integer, not a chunk (and reading it would fail, a system call each).
  const std::uintptr_t floor = std::max<std::uintptr_t>(65536, std::min<std::uintptr_t>(image.lo, std::uintptr_t{1} << 45));
  const pid_t self = detail::process_id();
  const std::uintptr_t heap_lo = LEAKGUARD_SINGLE_THREADED() ? brk_heap_start() : 0;
  const bool single_threaded = heap_lo != 0;
  std::uintptr_t named[kMax];
  std::uintptr_t named_size[kMax];
  std::size_t named_count = 0;
  constexpr std::size_t kCandidates = 512;
  std::uintptr_t candidate[kCandidates];
  std::size_t pending = 0;
  // The candidates gathered so far, sorted, unique and without this thread's live blocks.
  auto compact = [&] {
    std::sort(candidate, candidate + pending);
    pending = static_cast<std::size_t>(std::unique(candidate, candidate + pending) - candidate);
    pending = detail::tracer_drop_own_blocks(candidate, pending);
  };
  auto consider = [&](std::uintptr_t user, const std::uintptr_t* words) {  // words: header, first, second
    const std::uintptr_t size = words[0] & ~std::uintptr_t{7};
    const bool mapped = (words[0] & 2) != 0;
    if (words[2] != key || mapped || size < 4 * kWord || size > kMaxTcacheChunk || size % 16 != 0) return;
    for (std::size_t j = 0; j < named_count; ++j) {
      if (named[j] == user) return;
    }
    if (named_count < kMax) {
      named[named_count] = user;
      named_size[named_count++] = size;
    }
  };
  // Reads [first - 8, last + 16) for a run of candidates within kSpan bytes of each other.
  constexpr std::size_t kReads = 8, kSpan = 256;
  constexpr std::size_t kReadWords = (kSpan + 3 * kWord) / kWord;
  auto probe = [&] {
    compact();
    std::uintptr_t words[kReads][kReadWords];
    iovec local[kReads], remote[kReads];
    std::size_t first[kReads + 1];
    std::size_t at = 0;
    while (at < pending) {
      std::size_t n = 0, cursor = at;
      for (; n < kReads && cursor < pending; ++n) {
        first[n] = cursor;
        std::size_t last = cursor;
        while (last + 1 < pending && candidate[last + 1] - candidate[cursor] <= kSpan) ++last;
        const std::uintptr_t from = candidate[cursor] - kWord;
        local[n] = iovec{words[n], static_cast<std::size_t>(candidate[last] + 2 * kWord - from)};
        remote[n] = iovec{reinterpret_cast<void*>(from), local[n].iov_len};
        cursor = last + 1;
      }
      first[n] = cursor;
      const ssize_t got = process_vm_readv(self, local, n, remote, n, 0);
      // A failed read ends the transfer there: the reads before it are whole.
      std::size_t left = got < 0 ? 0 : static_cast<std::size_t>(got);
      std::size_t k = 0;
      for (; k < n && left >= local[k].iov_len; ++k) {
        left -= local[k].iov_len;
        for (std::size_t c = first[k]; c < first[k + 1]; ++c) {
          consider(candidate[c], &words[k][(candidate[c] - candidate[first[k]]) / kWord]);
        }
      }
      if (k == n) {
        at = cursor;
        continue;
      }
      // Read k failed. Of several candidates, one may name unmapped memory next to a chunk's:
      // each is read alone.
      if (first[k + 1] - first[k] > 1) {
        for (std::size_t c = first[k]; c < first[k + 1]; ++c) {
          if (read_memory(candidate[c] - kWord, words[0], 3 * kWord)) consider(candidate[c], words[0]);
        }
      }
      at = first[k + 1];
    }
    pending = 0;
    std::memset(words, 0, sizeof words);  // no copy of a chunk's address outlives the probe
    asm volatile("" : : "r"(words) : "memory");
  };
  // In a process that never had a second thread, nothing can shrink the brk heap while this reads
  // it: a candidate's chunk is read in place as the scan meets it, with no system call, no list
  // and no lookup in the trace table (the few words that pass are looked up after). Other memory
  // holds no tcache chunk of such a process (one arena, the brk heap), so it is not read.
  const std::uintptr_t brk_hi = single_threaded ? reinterpret_cast<std::uintptr_t>(sbrk(0)) : 0;
  std::uintptr_t chunk[3] = {};
  if (single_threaded) {
    // A candidate's header and two words lie in the brk heap, which lies apart from the stack,
    // the image and the mmap area: that one range check stands for all of the checks below (a
    // word a scan meets is most often a return address or a stack address, and this loop runs
    // at every checkpoint).
    const std::uintptr_t first_user = heap_lo + kWord;
    if (brk_hi >= first_user + 2 * kWord) {
      const std::uintptr_t span = brk_hi - 2 * kWord - first_user;
      for (std::uintptr_t at = lo; at < hi; at += kWord) {
        const std::uintptr_t w = *reinterpret_cast<const std::uintptr_t*>(at);
        if ((w & 15) != 0 || w - first_user > span) continue;
        std::memcpy(chunk, reinterpret_cast<const void*>(w - kWord), sizeof chunk);
        consider(w, chunk);
      }
    }
  } else {
    for (std::uintptr_t at = lo; at < hi; at += kWord) {
      const std::uintptr_t w = *reinterpret_cast<const std::uintptr_t*>(at);
      if (w % 16 != 0 || w < floor || w >= (std::uintptr_t{1} << 47) || (w >= lo && w < hi)) continue;
      if (w >= not_above || (w >= image.lo && w < image.hi)) continue;
      candidate[pending++] = w;
      if (pending == kCandidates) {
        compact();
        if (pending > kCandidates / 2) probe();
      }
    }
    if (pending > 0) probe();
  }
  if (single_threaded) {  // a live block of this thread's is in no tcache
    std::size_t kept = 0;
    for (std::size_t i = 0; i < named_count; ++i) {
      std::uintptr_t user = named[i];
      if (detail::tracer_drop_own_blocks(&user, 1) == 0) continue;
      named[kept] = named[i];
      named_size[kept++] = named_size[i];
    }
    named_count = kept;
  }
  // Each size once: take chunks of that size until every named one came out.
  for (std::size_t i = 0; i < named_count; ++i) {
    const std::uintptr_t size = named_size[i];
    if (size == 0) continue;
    std::size_t wanted = 0;
    for (std::size_t j = i; j < named_count; ++j) wanted += named_size[j] == size ? 1 : 0;
    void* others[kTries];
    std::size_t other_count = 0;
    for (int t = 0; t < kTries && wanted > 0 && count < kMax; ++t) {
      void* p = __libc_malloc(size - kWord);  // a request glibc rounds to exactly this chunk size
      if (p == nullptr) break;
      bool is_named = false;
      for (std::size_t j = i; j < named_count; ++j) {
        if (named_size[j] == size && named[j] == reinterpret_cast<std::uintptr_t>(p)) {
          is_named = true;
          named_size[j] = 0;
        }
      }
      if (is_named) {
        std::memset(p, 0, size - kWord);
        chunks[count++] = p;
        --wanted;
      } else {
        others[other_count++] = p;
      }
    }
    while (other_count > 0) __libc_free(others[--other_count]);  // back as they were, head last
    for (std::size_t j = i; j < named_count; ++j) {
      if (named_size[j] == size) named_size[j] = 0;  // not found in reach: left where it is
    }
    std::memset(others, 0, sizeof others);
    asm volatile("" : : "r"(others) : "memory");
  }
  // The copies made here would stay in dead stack, which the window's frames reuse.
  if (!single_threaded) std::memset(candidate, 0, sizeof candidate);
  std::memset(named, 0, sizeof named);
  std::memset(chunk, 0, sizeof chunk);
  asm volatile("" : : "r"(candidate), "r"(named), "r"(chunk) : "memory");
}

// The scan, one frame below classify_survivors() so that the caller's registers, spilled there,
// and nothing of the scan's own locals lie above `stack_floor`.
struct Classifier {
  static Classification run(const Checkpoint& since, std::uintptr_t stack_floor);
  static detail::CheckpointWindow window_of(const Checkpoint& c) noexcept {
    return {c.state_->window, c.state_->wraps};
  }
};

detail::CheckpointWindow detail::checkpoint_window(const Checkpoint& checkpoint) noexcept {
  return Classifier::window_of(checkpoint);
}

namespace {

enum : std::uint8_t { kSurvivor = 1, kReached = 2, kFromLost = 4, kIgnored = 8 };

class Scan {
 public:
  Scan(const RawArray<RawTrace>& blocks, std::size_t n, RawArray<std::uint8_t>& flags)
      : blocks_(blocks), n_(n), flags_(flags), worklist_(n + 1) {
    lo_ = blocks_[0].addr;
    for (std::size_t i = 0; i < n_; ++i) hi_ = std::max<std::uintptr_t>(hi_, blocks_[i].addr + blocks_[i].size);
  }

  // The block a word points into, or n. Not one past its end, as in LSan: that address is the
  // next chunk's header, which glibc's free lists and arena point to all the time.
  std::size_t block_at(std::uintptr_t w) const {
    if (w < lo_ || w > hi_) return n_;
    const RawTrace* first = blocks_.begin();
    const RawTrace* it = std::upper_bound(first, first + n_, w, [](std::uintptr_t v, const RawTrace& t) { return v < t.addr; });
    if (it == first) return n_;
    --it;
    return w < it->addr + it->size || w == it->addr ? static_cast<std::size_t>(it - first) : n_;
  }

  // Marks what the words of [lo, hi) reach. False when the range could not be read.
  bool scan_root(std::uintptr_t lo, std::uintptr_t hi) { return scan(lo, hi, kReached, n_, true); }

  // Root ranges [lo, hi) that are never references (allocator bookkeeping).
  void skip_root_ranges(const std::array<std::uintptr_t, 2>* ranges, std::size_t n) {
    skipped_ = ranges;
    skipped_count_ = n;
  }

  // A block that counts as reached whatever points to it (ignore_object()).
  void reach(std::size_t b) {
    if ((flags_[b] & kReached) != 0) return;
    flags_[b] |= kReached;
    worklist_[top_++] = static_cast<std::uint32_t>(b);
  }
  std::size_t index_of(std::uintptr_t addr) const { return block_at(addr); }

  void flood() {
    std::uint32_t batch[kBatch];
    while (top_ > 0) {
      std::size_t n = 0;
      while (top_ > 0 && n < kBatch) batch[n++] = worklist_[--top_];
      scan_blocks(batch, n, kReached, true);
    }
  }

  // Flags survivors that an unreached block points to.
  void mark_pointed_to_by_lost() {
    std::uint32_t batch[kBatch];
    std::size_t n = 0;
    for (std::size_t b = 0; b < n_; ++b) {
      if ((flags_[b] & kReached) != 0) continue;
      batch[n++] = static_cast<std::uint32_t>(b);
      if (n == kBatch) {
        scan_blocks(batch, n, kFromLost, false);
        n = 0;
      }
    }
    scan_blocks(batch, n, kFromLost, false);
  }

 private:
  static constexpr std::size_t kBatch = 1024;      // iovecs per process_vm_readv (IOV_MAX)
  static constexpr std::size_t kBufferWords = 8192;

  // Each read is a system call, so small blocks are read many at a time.
  void scan_blocks(const std::uint32_t* ids, std::size_t count, std::uint8_t flag, bool push) {
    std::uintptr_t buffer[kBufferWords];
    iovec local[kBatch], remote[kBatch];
    std::size_t words[kBatch];
    std::uint32_t batched[kBatch];  // which block each read is (a big block read alone is not one)
    std::size_t i = 0;
    while (i < count) {
      std::size_t n = 0, used = 0;
      for (; i < count && n < kBatch; ++i) {
        const RawTrace& b = blocks_[ids[i]];
        const std::size_t w = b.size / sizeof(void*);
        if (w > kBufferWords / 4) {  // a big block reads alone
          scan(b.addr, b.addr + b.size, flag, ids[i], push);
          continue;
        }
        if (used + w > kBufferWords) break;
        local[n] = iovec{buffer + used, w * sizeof(void*)};
        remote[n] = iovec{reinterpret_cast<void*>(b.addr), w * sizeof(void*)};
        words[n] = w;
        batched[n] = ids[i];
        used += w;
        ++n;
      }
      if (n == 0) continue;
      const ssize_t got = process_vm_readv(detail::process_id(), local, n, remote, n, 0);
      std::size_t at = 0;
      for (std::size_t k = 0; k < n; ++k) {
        const std::size_t self = batched[k];
        if (got == static_cast<ssize_t>(used * sizeof(void*))) {
          consider(buffer + at, words[k], flag, self, push);
        } else {  // one of them went away meanwhile: read them one by one
          const RawTrace& b = blocks_[self];
          scan(b.addr, b.addr + b.size, flag, self, push);
        }
        at += words[k];
      }
    }
  }

  bool scan(std::uintptr_t lo, std::uintptr_t hi, std::uint8_t flag, std::size_t self, bool push) {
    lo = (lo + sizeof(void*) - 1) & ~(sizeof(void*) - 1);
    std::uintptr_t buffer[kBufferWords];
    bool ok = true;
    while (lo + sizeof(void*) <= hi) {
      const std::size_t words = std::min<std::size_t>(kBufferWords, (hi - lo) / sizeof(void*));
      if (read_memory(lo, buffer, words * sizeof(void*))) {
        if (self == n_) blank_skipped(buffer, lo, words);
        consider(buffer, words, flag, self, push);
      } else {
        ok = false;
      }
      lo += words * sizeof(void*);
    }
    return ok;
  }

  void blank_skipped(std::uintptr_t* buffer, std::uintptr_t lo, std::size_t words) const {
    const std::uintptr_t hi = lo + words * sizeof(void*);
    for (std::size_t k = 0; k < skipped_count_; ++k) {
      const std::uintptr_t from = std::max(lo, skipped_[k][0]), to = std::min(hi, skipped_[k][1]);
      for (std::uintptr_t at = from; at < to; at += sizeof(void*)) buffer[(at - lo) / sizeof(void*)] = 0;
    }
  }

  // The words of one range: every block one points into gets `flag` (and, when pushing, a turn
  // in the flood).
  void consider(const std::uintptr_t* words, std::size_t count, std::uint8_t flag, std::size_t self, bool push) {
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t b = block_at(words[i]);
      if (b == n_ || b == self || (flags_[b] & flag) != 0) continue;
      if (flag == kFromLost && (flags_[b] & kSurvivor) == 0) continue;
      flags_[b] |= flag;
      if (push) worklist_[top_++] = static_cast<std::uint32_t>(b);
    }
  }

  const RawArray<RawTrace>& blocks_;
  std::size_t n_;
  RawArray<std::uint8_t>& flags_;
  RawArray<std::uint32_t> worklist_;
  std::size_t top_ = 0;
  std::uintptr_t lo_ = 0, hi_ = 0;
  const std::array<std::uintptr_t, 2>* skipped_ = nullptr;
  std::size_t skipped_count_ = 0;
};

}  // namespace

namespace {
// StackRoots::kSharedFrames: where the frames live at the checkpoint begin on the calling thread's
// stack now, or 0 when the walks share no frame. Walking out from here, the first frame found
// with the same return address in the same slot as at the checkpoint is the deepest one live at
// both (the framework's test runner): the frame just below it is its callee, and that callee's
// return-address slot lies right under the runner's stack pointer. Every frame below that point
// was built after the checkpoint. A frame that merely looks the same (the same call at the same
// depth) only keeps more of the stack as roots.
__attribute__((noinline)) std::uintptr_t shared_frames_floor(const FrameWalk& then) {
  FrameWalk now;
  now.take(reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)));
  const std::uintptr_t* then_end = then.slot + then.count;
  for (std::uint32_t i = 1; i < now.count; ++i) {
    const std::uintptr_t* at = std::lower_bound(then.slot, then_end, now.slot[i]);  // slots rise outward
    if (at != then_end && *at == now.slot[i] && then.ra[at - then.slot] == now.ra[i]) {
      return now.slot[i - 1] + sizeof(std::uintptr_t);
    }
  }
  return 0;
}
}  // namespace

Classification Classifier::run(const Checkpoint& since, std::uintptr_t stack_floor) {
  detail::UntracedScope untraced;
  Classification result;
  const Checkpoint::State& since_state = *since.state_;
  if (detail::tracer_window_wraps() != since_state.wraps) {
    // A million checkpoints later every block's window id was cleared: none can be told apart.
    result.notes.push_back("the checkpoint is older than the last 2^20 checkpoints; nothing classified");
    return result;
  }
  // Nothing of the window survives: known from the threads' counts, whatever the heap's size.
  if (detail::tracer_window_blocks(since_state.window) == 0) return result;

  // Free chunks in glibc's fast bins still read as in use, with their stale contents; trimming
  // consolidates them into plain free chunks, which the heap walk skips.
  ::malloc_trim(0);
  const std::uintptr_t cached_mark = tcache_key();
  std::array<std::uintptr_t, 2> bookkeeping[kMaxArenas];
  const std::size_t bookkeeping_count = arena_bookkeeping(bookkeeping);
  RawArray<RawTrace> blocks;
  const std::size_t n = collect_heap(&blocks);
  RawArray<std::uint8_t> flags(n + 1);
  std::size_t survivors = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (blocks[i].tag >= since_state.window) {  // this window's blocks and those of later ones
      flags[i] = kSurvivor;
      ++survivors;
    }
  }
  if (survivors == 0) return result;
  // Only a scan needs the floor: a test that left nothing does not pay for the walk.
  if (since_state.roots == StackRoots::kSharedFrames && since_state.frames.count > 0) {
    stack_floor = std::max(stack_floor, shared_frames_floor(since_state.frames));
  }

  // Roots: writable mappings, minus the scan's own arrays and leakguard's own heap, minus the
  // interiors of traced blocks (reached ones are scanned by the flood), minus the calling
  // thread's stack below its caller. Nothing here may copy block addresses into the malloc heap:
  // it is scanned.
  const detail::OwnHeapRange own_heap = detail::own_heap_range();
  std::array<std::uintptr_t, 2> own[3] = {
      {reinterpret_cast<std::uintptr_t>(blocks.region()), reinterpret_cast<std::uintptr_t>(blocks.region()) + blocks.bytes()},
      {reinterpret_cast<std::uintptr_t>(flags.region()), reinterpret_cast<std::uintptr_t>(flags.region()) + flags.bytes()},
      {own_heap.lo, own_heap.hi}};
  std::sort(std::begin(own), std::end(own), [](const auto& a, const auto& b) { return a[0] < b[0]; });
  Scan scan(blocks, n, flags);
  scan.skip_root_ranges(bookkeeping, bookkeeping_count);
  bool all_read = true;
  auto scan_root = [&](std::uintptr_t lo, std::uintptr_t hi, const Region& region) {
    bool ok = true;
    // The scan's own arrays are separate mappings, but the kernel may merge them with a neighbour.
    // In address order, so that each part left of one is scanned once.
    for (const auto& o : own) {
      if (o[0] < hi && lo < o[1]) {
        if (lo < o[0]) ok = scan.scan_root(lo, o[0]) && ok;
        lo = std::max(lo, o[1]);
      }
    }
    if (lo < hi) ok = scan.scan_root(lo, hi) && ok;
    if (!ok) {
      all_read = false;
      result.notes.push_back(std::string("could not read all of ") + region.what);
    }
  };
  // The gap [lo, hi) after traced block `prev` in a malloc heap: glibc's chunks follow it, and
  // a free chunk holds no live pointer, only stale ones (freed nodes, the symbolizer's freed
  // buffers) that would make a lost block look held. So the gap is walked chunk by chunk and only
  // chunks in use are scanned. Chunks in glibc's tcache and fast bins still read as in use, and
  // are scanned. Anything that does not parse as chunks is scanned whole.
  // Walks glibc's chunks from `chunk` through [lo, hi), scanning those in use: see scan_heap_gap.
  auto walk_chunks = [&](std::uintptr_t chunk, std::uintptr_t lo, std::uintptr_t hi, bool block_follows,
                         const Region& region) {
    constexpr std::uintptr_t kWord = sizeof(std::uintptr_t);
    constexpr std::uintptr_t kInUse = 1, kMapped = 2, kFlags = 7;
    // Where the next traced block's chunk begins, or the end of the mapping.
    const std::uintptr_t end = block_follows ? hi - 2 * kWord : hi;
    if (chunk < lo - kWord || chunk > end) {  // not glibc's layout: scan it all
      scan_root(lo, hi, region);
      return;
    }
    while (chunk < end) {
      std::uintptr_t size_word = 0;
      if (!read_memory(chunk + kWord, &size_word, kWord)) break;
      const std::uintptr_t size = size_word & ~kFlags;
      if (size < 4 * kWord || size % (2 * kWord) != 0 || (size_word & kMapped) != 0) break;
      const std::uintptr_t next = chunk + size;
      if (!block_follows && next + 2 * kWord > hi) {  // it runs to the mapping's end: the top chunk, free
        chunk = end;
        break;
      }
      if (next > end) break;
      std::uintptr_t next_size_word = 0;
      if (!read_memory(next + kWord, &next_size_word, kWord)) break;
      // An in-use chunk's data runs into the next chunk's prev_size word. A chunk in a tcache
      // reads as in use, but carries the tcache's mark.
      std::uintptr_t second_word = 0;
      const bool cached = cached_mark != 0 && read_memory(chunk + 3 * kWord, &second_word, kWord) &&
                          second_word == cached_mark;
      if ((next_size_word & kInUse) != 0 && !cached) {
        scan_root(std::max(lo, chunk + 2 * kWord), std::min(next + kWord, hi), region);
      }
      chunk = next;
    }
    if (chunk != end) scan_root(std::max(lo, chunk), hi, region);  // lost the thread: scan the rest whole
  };
  // The gap [lo, hi) after traced block `prev` in a malloc heap: glibc's chunks follow it, and
  // a free chunk holds no live pointer, only stale ones (freed nodes, the symbolizer's freed
  // buffers) that would make a lost block look held. So the gap is walked chunk by chunk and only
  // chunks in use are scanned. Chunks in glibc's tcache and fast bins still read as in use, and
  // are scanned. Anything that does not parse as chunks is scanned whole.
  auto scan_heap_gap = [&](const RawTrace& prev, std::uintptr_t lo, std::uintptr_t hi, bool block_follows,
                           const Region& region) {
    constexpr std::uintptr_t kWord = sizeof(std::uintptr_t);
    constexpr std::uintptr_t kMapped = 2, kFlags = 7;
    // Between two traced blocks that are neighbour chunks lie only the first one's padding and
    // the second one's header: nothing to read (the common case, and a system call saved).
    if (block_follows && hi - lo < 2 * kWord + 4 * kWord + kWord) return;
    std::uintptr_t header[2];
    const std::uintptr_t prev_chunk = prev.addr - 2 * kWord;
    if (!read_memory(prev_chunk, header, sizeof header) || (header[1] & kMapped) != 0) {
      scan_root(lo, hi, region);
      return;
    }
    walk_chunks(prev_chunk + (header[1] & ~kFlags), lo, hi, block_follows, region);
  };
  // The main heap ([heap], grown by brk) begins with its first chunk, so the part before its first
  // traced block is walked from there; other gaps with no traced block before them are scanned
  // whole.
  auto scan_first_gap = [&](std::uintptr_t lo, std::uintptr_t hi, bool block_follows, const Region& region) {
    if (std::strcmp(region.what, "[heap]") == 0 && lo == region.lo) {
      walk_chunks(region.lo, lo, hi, block_follows, region);
    } else {
      scan_root(lo, hi, region);
    }
  };
  const ThreadLayout layout = thread_layout();
  RawArray<char> maps_text;
  RawArray<Region> regions(256);
  const std::size_t region_count = writable_mappings(maps_text, &regions);
  if (region_count == 0) {
    all_read = false;
    result.notes.push_back("could not read /proc/self/maps");
  }
  for (std::size_t r = 0; r < region_count; ++r) {
    const Region& region = regions[r];
    std::uintptr_t lo = region.lo;
    const std::uintptr_t hi = region.hi;
    if (lo <= stack_floor && stack_floor < hi) lo = stack_floor;
    // The stack of a thread that is gone (glibc keeps it for reuse): its frames and its TLS are
    // dead; its descriptor is still scanned (the DTV, a joinable thread's result, the start
    // argument of a thread being created on it).
    const std::uintptr_t dead = dead_thread_descriptor(region, layout);
    if (dead != 0) lo = std::max(lo, dead);
    // The traced blocks inside [lo, hi), in address order: scan the gaps between them.
    const RawTrace* b = std::upper_bound(blocks.begin(), blocks.begin() + n, lo,
                                         [](std::uintptr_t v, const RawTrace& t) { return v < t.addr; });
    const RawTrace* prev = nullptr;
    if (b != blocks.begin() && (b - 1)->addr + (b - 1)->size > lo) {
      prev = b - 1;
      lo = prev->addr + prev->size;
    }
    for (; b != blocks.begin() + n && b->addr < hi; ++b) {
      if (b->addr > lo) {
        const std::uintptr_t gap_hi = std::min<std::uintptr_t>(b->addr, hi);
        if (prev != nullptr && gap_hi == b->addr) {
          scan_heap_gap(*prev, lo, gap_hi, true, region);
        } else if (prev == nullptr) {
          scan_first_gap(lo, gap_hi, gap_hi == b->addr, region);
        } else {
          scan_root(lo, gap_hi, region);
        }
      }
      if (b->addr + b->size >= lo) prev = b;
      lo = std::max<std::uintptr_t>(lo, b->addr + b->size);
    }
    if (lo < hi) {
      if (prev != nullptr) {
        scan_heap_gap(*prev, lo, hi, false, region);
      } else {
        scan_first_gap(lo, hi, false, region);
      }
    }
    // A thread was started on that stack meanwhile: it is live, and scanned whole.
    if (dead != 0 && dead_thread_descriptor(region, layout) != dead) scan_root(region.lo, dead, region);
  }
  for (const IgnoredBlock& ignored : ignored_blocks()) {
    const std::size_t b = scan.index_of(ignored.addr);
    if (b < n && blocks[b].addr == ignored.addr && blocks[b].size == ignored.size &&
        blocks[b].stack_id == ignored.stack_id) {
      scan.reach(b);
      flags[b] |= kIgnored;
    }
  }
  scan.flood();
  scan.mark_pointed_to_by_lost();
  if (!all_read) result.notes.push_back("some roots could not be read: every survivor is reported held");

  std::unordered_map<std::uint32_t, Traceback> tracebacks;
  for (std::size_t i = 0; i < n; ++i) {
    if ((flags[i] & kSurvivor) == 0) continue;
    SurvivorKind kind = SurvivorKind::kHeld;
    if (all_read && (flags[i] & kReached) == 0) {
      kind = (flags[i] & kFromLost) != 0 ? SurvivorKind::kIndirectLeak : SurvivorKind::kDirectLeak;
    }
    auto tb = tracebacks.find(blocks[i].stack_id);
    if (tb == tracebacks.end()) tb = tracebacks.emplace(blocks[i].stack_id, detail::traceback_of(blocks[i].stack_id)).first;
    result.survivors.push_back(
        Survivor{blocks[i].addr, static_cast<std::size_t>(blocks[i].size), kind, tb->second, (flags[i] & kIgnored) != 0});
    if (kind == SurvivorKind::kHeld) {
      result.held_bytes += blocks[i].size;
      ++result.held_blocks;
    } else {
      result.definite_bytes += blocks[i].size;
      ++result.definite_blocks;
    }
  }
  std::stable_sort(result.survivors.begin(), result.survivors.end(), [](const Survivor& a, const Survivor& b) {
    if (a.kind != b.kind) return a.kind < b.kind;
    return a.size > b.size;
  });
  return result;
}

// Spills the caller's registers into this frame, then scans from one frame down, so the caller's
// pointers count and the scan's own locals do not.
__attribute__((noinline)) Classification classify_survivors(const Checkpoint& since) {
  __builtin_unwind_init();
  const auto floor = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)) - 64;
  Classification (*volatile run)(const Checkpoint&, std::uintptr_t) = &Classifier::run;
  return run(since, floor);
}

}  // namespace leakguard
