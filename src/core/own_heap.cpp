// leakguard's own heap (own_heap.hpp).
#include "own_heap.hpp"

#include <pthread.h>
#include <sys/mman.h>

#include <cstring>

#include "spinlock.hpp"

namespace leakguard::detail {

std::atomic<std::uintptr_t> g_own_heap_base{~std::uintptr_t{0} - kOwnHeapReserve};

namespace {

constexpr std::size_t kHeader = 16;            // before every block: its class and size
constexpr std::uint32_t kMagic = 0x4c47484fu;  // "OHGL": a header of ours
constexpr std::size_t kMaxSmall = 32 * 1024;   // bigger blocks are page runs
constexpr std::size_t kPage = 4096;
constexpr std::size_t kSlab = 64 * 1024;       // small blocks are carved from slabs this big
constexpr std::size_t kCommitStep = 1 << 20;
// Freed page runs stay mapped up to this many bytes (the newest up to 4 times that), as glibc keeps
// freed memory below its trim threshold: the per-test paths free and take again buffers of the
// same size (a snapshot's copy of the live blocks), and giving each back made every next use
// fault its pages in again - the repeated-run rule spent 85% of its time there.
constexpr std::size_t kResidentRuns = 16 << 20;

struct Header {
  std::uint32_t cls;    // size class, or kLarge
  std::uint32_t magic;
  std::uint64_t bytes;  // usable bytes after the header
};
static_assert(sizeof(Header) == kHeader);

// Classes: 16-byte steps to 256, then four per doubling to kMaxSmall.
constexpr std::uint32_t kStepClasses = 16;
constexpr std::uint32_t kClasses = kStepClasses + 4 * 7;  // 256 .. 32768 in quarter doublings
constexpr std::uint32_t kLarge = 0xffffffffu;

std::size_t class_bytes(std::uint32_t cls) {
  if (cls < kStepClasses) return 16 * (cls + 1);
  const std::uint32_t k = cls - kStepClasses;  // 0 -> 320
  const std::size_t base = std::size_t{256} << (k / 4);
  return base + base / 4 * (k % 4 + 1);
}

std::uint32_t class_of(std::size_t size) {
  if (size <= 256) return size == 0 ? 0 : static_cast<std::uint32_t>((size - 1) / 16);
  std::uint32_t cls = kStepClasses;
  while (class_bytes(cls) < size) ++cls;  // at most 28 steps, on a path that is not hot
  return cls;
}

struct FreeRun {  // a freed page run, in the user part of its first page
  FreeRun* next;
  std::size_t bytes;  // the run's, header included
  bool resident;      // its pages past the first are still mapped (not given back)
};

struct Slab {  // the part of a class's newest slab not cut into slots yet
  std::uintptr_t next = 0, end = 0;
};

struct Heap {
  SpinLock lock;
  std::atomic<pthread_t> owner{};  // who holds the lock, to tell a re-entry from a wait
  std::uintptr_t base = 0;
  std::size_t top = 0;        // bytes of the range handed out to slabs and runs
  std::size_t committed = 0;  // bytes of the range readable and writable
  Header* free_lists[kClasses] = {};
  Slab slabs[kClasses];
  FreeRun* free_runs = nullptr;  // newest first
  std::size_t resident_run_bytes = 0;  // of the free runs still mapped
  std::atomic<Header*> pending{nullptr};  // frees from a re-entry, done at the next call
  std::size_t live = 0;
};
Heap g_heap;

void* user_of(Header* h) { return reinterpret_cast<char*>(h) + kHeader; }
Header* header_of(const void* p) {
  return reinterpret_cast<Header*>(const_cast<char*>(static_cast<const char*>(p)) - kHeader);
}
Header*& next_free(Header* h) { return *static_cast<Header**>(user_of(h)); }

// The range's next `bytes` (a multiple of the page size), committed. Null when it is full.
char* carve(std::size_t bytes) {
  if (bytes > kOwnHeapReserve - g_heap.top) return nullptr;
  if (g_heap.top + bytes > g_heap.committed) {
    std::size_t grow = g_heap.top + bytes - g_heap.committed;
    grow = (grow + kCommitStep - 1) / kCommitStep * kCommitStep;
    if (grow > kOwnHeapReserve - g_heap.committed) grow = kOwnHeapReserve - g_heap.committed;
    if (::mprotect(reinterpret_cast<void*>(g_heap.base + g_heap.committed), grow, PROT_READ | PROT_WRITE) != 0) {
      return nullptr;
    }
    g_heap.committed += grow;
  }
  char* at = reinterpret_cast<char*>(g_heap.base + g_heap.top);
  g_heap.top += bytes;
  return at;
}

// Gives back the pages of the free runs past the first kResidentRuns bytes of mapped ones,
// newest first; the run just freed is kept up to four times that.
void trim_free_runs() {
  std::size_t kept = 0;
  for (FreeRun* r = g_heap.free_runs; r != nullptr; r = r->next) {
    if (!r->resident) continue;
    const std::size_t pages = r->bytes - kPage;
    if ((r == g_heap.free_runs && pages <= 4 * kResidentRuns) || kept + pages <= kResidentRuns) {
      kept += pages;
      continue;
    }
    // The first page keeps the run's place in the list.
    ::madvise(reinterpret_cast<char*>(header_of(r)) + kPage, pages, MADV_DONTNEED);
    r->resident = false;
    g_heap.resident_run_bytes -= pages;
  }
}

void free_locked(Header* h) {
  if (h->cls == kLarge) {
    const std::size_t run = h->bytes + kHeader;
    auto* r = static_cast<FreeRun*>(user_of(h));
    r->bytes = run;
    r->resident = run > kPage;
    r->next = g_heap.free_runs;
    g_heap.free_runs = r;
    if (r->resident) {
      g_heap.resident_run_bytes += run - kPage;
      if (g_heap.resident_run_bytes > kResidentRuns) trim_free_runs();
    }
  } else {
    next_free(h) = g_heap.free_lists[h->cls];
    g_heap.free_lists[h->cls] = h;
  }
  g_heap.live -= h->bytes;
}

void drain_pending() {
  Header* h = g_heap.pending.exchange(nullptr, std::memory_order_acquire);
  while (h != nullptr) {
    Header* next = next_free(h);
    free_locked(h);
    h = next;
  }
}

Header* allocate_locked(std::size_t size) {
  Header* h = nullptr;
  if (size <= kMaxSmall) {
    const std::uint32_t cls = class_of(size);
    h = g_heap.free_lists[cls];
    if (h != nullptr) {
      g_heap.free_lists[cls] = next_free(h);
    } else {
      // Slots are cut from the class's slab only as they are handed out: a slab threaded onto
      // the free list whole wrote a header on each of its pages, and every class's first block
      // then cost its process 16 page faults (~170 of them before main, ~0.3 ms a process).
      const std::size_t slot = kHeader + class_bytes(cls);
      Slab& slab = g_heap.slabs[cls];
      if (slab.end - slab.next < slot) {
        const std::size_t bytes = slot * 4 > kSlab ? (slot * 4 + kPage - 1) / kPage * kPage : kSlab;
        char* at = carve(bytes);
        if (at == nullptr) return nullptr;
        slab.next = reinterpret_cast<std::uintptr_t>(at);
        slab.end = slab.next + bytes;
      }
      h = reinterpret_cast<Header*>(slab.next);
      slab.next += slot;
      h->cls = cls;
      h->magic = kMagic;
      h->bytes = class_bytes(cls);
    }
  } else {
    const std::size_t run = (size + kHeader + kPage - 1) / kPage * kPage;
    // A freed run that fits without wasting more than half of it; otherwise a new one.
    for (FreeRun** r = &g_heap.free_runs; *r != nullptr; r = &(*r)->next) {
      if ((*r)->bytes >= run && (*r)->bytes / 2 <= run) {
        if ((*r)->resident) g_heap.resident_run_bytes -= (*r)->bytes - kPage;
        h = header_of(*r);
        h->bytes = (*r)->bytes - kHeader;
        *r = (*r)->next;
        break;
      }
    }
    if (h == nullptr) {
      char* at = carve(run);
      if (at == nullptr) return nullptr;
      h = reinterpret_cast<Header*>(at);
      h->bytes = run - kHeader;
    }
    h->cls = kLarge;
    h->magic = kMagic;
  }
  g_heap.live += h->bytes;
  return h;
}

// Takes the lock, unless this thread holds it already (a signal handler that interrupted it).
bool enter() noexcept {
  const pthread_t self = pthread_self();
  if (!g_heap.lock.try_lock()) {
    if (pthread_equal(g_heap.owner.load(std::memory_order_relaxed), self)) return false;
    g_heap.lock.lock();
  }
  g_heap.owner.store(self, std::memory_order_relaxed);
  drain_pending();
  return true;
}
void leave() noexcept {
  g_heap.owner.store(pthread_t{}, std::memory_order_relaxed);
  g_heap.lock.unlock();
}

// The range is reserved before main and before the tracer starts, so that the first allocation
// finds it ready; and the fork handlers hand the lock over whole.
__attribute__((constructor(101))) void reserve() {
  void* range = ::mmap(nullptr, kOwnHeapReserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (range == MAP_FAILED) return;  // no address space for it: leakguard's blocks stay in glibc's heap
  pthread_atfork([] { g_heap.lock.lock(); }, [] { g_heap.lock.unlock(); },
                 [] {
                   g_heap.owner.store(pthread_t{}, std::memory_order_relaxed);
                   g_heap.lock.reset();
                 });
  g_heap.base = reinterpret_cast<std::uintptr_t>(range);
  g_own_heap_base.store(g_heap.base, std::memory_order_release);
}

}  // namespace

void* own_malloc(std::size_t size) noexcept {
  if (g_heap.base == 0 || !enter()) return nullptr;
  Header* h = allocate_locked(size);
  leave();
  return h != nullptr ? user_of(h) : nullptr;
}

void* own_calloc(std::size_t n, std::size_t size) noexcept {
  std::size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) return nullptr;
  void* p = own_malloc(bytes);
  if (p != nullptr) std::memset(p, 0, bytes);
  return p;
}

void* own_realloc(void* p, std::size_t size) noexcept {
  const std::size_t have = header_of(p)->bytes;
  if (size <= have && (have <= kMaxSmall || size > have / 2)) return p;
  void* q = own_malloc(size);
  if (q == nullptr) return nullptr;
  std::memcpy(q, p, size < have ? size : have);
  own_free(p);
  return q;
}

void own_free(void* p) noexcept {
  Header* h = header_of(p);
  if (h->magic != kMagic) return;  // not a block of ours: never touch what we did not make
  if (!enter()) {                  // re-entered: done at the next call
    Header* head = g_heap.pending.load(std::memory_order_relaxed);
    do {
      next_free(h) = head;
    } while (!g_heap.pending.compare_exchange_weak(head, h, std::memory_order_release, std::memory_order_relaxed));
    return;
  }
  free_locked(h);
  leave();
}

std::size_t own_usable_size(const void* p) noexcept { return header_of(p)->bytes; }

OwnHeapRange own_heap_range() noexcept {
  const std::uintptr_t base = g_own_heap_base.load(std::memory_order_acquire);
  return base == g_heap.base && base != 0 ? OwnHeapRange{base, base + kOwnHeapReserve} : OwnHeapRange{};
}

std::size_t own_heap_live_bytes() noexcept {
  SpinGuard guard(g_heap.lock);
  return g_heap.live;
}

std::size_t own_heap_resident_free_bytes() noexcept {
  SpinGuard guard(g_heap.lock);
  return g_heap.resident_run_bytes;
}

}  // namespace leakguard::detail
