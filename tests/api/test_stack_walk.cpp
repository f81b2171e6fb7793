// The allocation walk's path memo (core/stack_capture.hpp): a walk that replays an earlier one
// from the same place must give exactly the frames a walk without any memo gives, whatever
// changed on the stack above, and may skip the frames only when they are the memo's own stack.
// White-box: these call capture_stack() directly, with a memo of their own.
#include <gtest/gtest.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "core/stack_capture.hpp"
#include "test_support.hpp"

namespace leakguard::detail {
namespace {

struct Walk {
  std::vector<std::uintptr_t> frames;
  CaptureResult result;
};

volatile int g_sink = 0;  // keeps the callers below distinct (no identical-code folding)

// Every walk starts here, so every one has the same first frame (its return into the caller).
__attribute__((noinline)) Walk walk_here(WalkMemo* memo, std::uint32_t max) {
  static const StackBounds bounds = current_thread_stack_bounds();
  Walk w;
  w.frames.resize(kMaxCapturedFrames);
  w.result = capture_stack(LG_CURRENT_FRAME(), bounds, max, w.frames.data(), memo);
  w.frames.resize(w.result.n);
  g_sink = g_sink + 1;
  return w;
}

std::uint64_t running_hash(const std::vector<std::uintptr_t>& f) {
  std::uint64_t h = f[0];
  for (std::size_t i = 1; i < f.size(); ++i) h = ((h << 5) | (h >> 59)) ^ f[i];
  return h;
}

// Two callers of one frame size, so the frames below them lie at the same addresses and only
// their return addresses tell them apart.
__attribute__((noinline)) Walk middle(WalkMemo* memo, std::uint32_t max) {
  Walk w = walk_here(memo, max);
  g_sink = g_sink + 2;
  return w;
}
__attribute__((noinline)) Walk middle2(WalkMemo* memo, std::uint32_t max) {
  Walk w = middle(memo, max);
  g_sink = g_sink + 9;
  return w;
}
__attribute__((noinline)) Walk from_a(WalkMemo* memo, std::uint32_t max) {
  Walk w = middle2(memo, max);
  g_sink = g_sink + 3;
  return w;
}
__attribute__((noinline)) Walk from_b(WalkMemo* memo, std::uint32_t max) {
  Walk w = middle2(memo, max);
  g_sink = g_sink + 4;
  return w;
}
using Path = Walk (*)(WalkMemo*, std::uint32_t);
__attribute__((noinline)) Walk take(Path path, WalkMemo* memo, std::uint32_t max) {
  Walk w = path(memo, max);  // one call site for both paths
  g_sink = g_sink + 5;
  return w;
}

// A walk with the memo, checked against one without it from the same place (one call site for
// both, so that their frames are the same).
__attribute__((noinline)) Walk checked(Path path, WalkMemo* memo, std::uint32_t max) {
  Walk walks[2];
  WalkMemo* const memos[2] = {nullptr, memo};
  for (int i = 0; i < 2; ++i) walks[i] = take(path, memos[i], max);
  const Walk& fresh = walks[0];
  Walk w = walks[1];
  if (w.result.known_id == 0) {
    EXPECT_EQ(w.frames, fresh.frames);
    EXPECT_EQ(w.result.hash, running_hash(w.frames));
  } else {
    EXPECT_EQ(w.result.n, fresh.frames.size());
  }
  return w;
}

// One walk of a scripted sequence: its path and frame limit, the id to store if the walk asks for
// one, and the id it is expected to know (0: none).
struct Step {
  Path path;
  std::uint32_t max;
  std::uint32_t store;
  std::uint32_t want_known;
};

// Every walk of a script from one call site, so that the frames above the path are the same.
__attribute__((noinline)) std::vector<Walk> run(const std::vector<Step>& script, WalkMemo* memo) {
  std::vector<Walk> walks;
  for (const Step& step : script) {
    Walk w = checked(step.path, memo, step.max);
    EXPECT_EQ(w.result.known_id, step.want_known) << "walk " << walks.size();
    if (w.result.known_id == 0) {
      EXPECT_NE(w.result.id_slot, nullptr) << "walk " << walks.size();
      if (step.store != 0 && w.result.id_slot != nullptr) *w.result.id_slot = step.store;
    }
    walks.push_back(std::move(w));
  }
  return walks;
}

// Frames walk_here, middle, middle2, from_*, take, checked, run and the test body: all this
// file's, built with frame pointers, then the body's return into GoogleTest. Above that are
// GoogleTest's frames, which Debian builds without frame pointers: the walk reads whatever their
// frame-pointer register held, which changes from call to call.
constexpr std::uint32_t kOwnFrames = 8;

TEST(StackWalk, AWalkFromThePlaceOfTheMemosStackGivesItsIdAndOnlyThen) {
  lgtest::Tracing tracing;  // the executable's code is known, as for the tracer's own walks
  static WalkMemo memo;
  const auto walks = run({{&from_a, kOwnFrames, 77, 0},
                          {&from_a, kOwnFrames, 0, 77},
                          {&from_a, kOwnFrames, 0, 77},
                          {&from_b, kOwnFrames, 0, 0},  // the memo now holds from_b's walk, no id
                          {&from_b, kOwnFrames, 78, 0},
                          {&from_b, kOwnFrames, 0, 78},
                          {&from_a, kOwnFrames, 0, 0}},
                         &memo);
  // The other caller: the same first two frames (replayed), another return address above them,
  // then the same frames again.
  const Walk& first = walks[0];
  const Walk& other = walks[3];
  ASSERT_EQ(first.frames.size(), kOwnFrames);
  ASSERT_EQ(other.frames.size(), kOwnFrames);
  EXPECT_EQ(other.frames[0], first.frames[0]);
  EXPECT_EQ(other.frames[1], first.frames[1]);
  EXPECT_NE(other.frames[2], first.frames[2]);
  EXPECT_EQ(other.frames[3], first.frames[3]);
}

TEST(StackWalk, AChangedFrameLimitWalksByTheRulesPastTheMemosEnd) {
  lgtest::Tracing tracing;
  static WalkMemo memo;
  const auto walks = run({{&from_a, 3, 5, 0},
                          {&from_a, 3, 0, 5},
                          {&from_a, kOwnFrames, 6, 0},  // replayed, then walked on: another stack
                          {&from_a, kOwnFrames, 0, 6},
                          {&from_a, 2, 0, 0}},  // a prefix of the memo's stack is another stack
                         &memo);
  EXPECT_EQ(walks[0].frames.size(), 3u);
  EXPECT_EQ(walks[2].frames.size(), kOwnFrames);
  EXPECT_EQ(walks[4].frames.size(), 2u);
}

// A frame that moves while the frames below it stay put: lifted_x() takes 16 bytes of stack and
// lifted_y() 48, and shifted() takes the rest of 256, so take's frame and everything below it lie
// at the same addresses either way, and the return address into shifted() is the same, but
// shifted's frame record is not: it holds the return into lifted_x or lifted_y. The memo's copy
// of where it was still lies, stale, in the stack; the walk must follow the record that is there.
__attribute__((noinline)) Walk shifted(WalkMemo* memo, std::uint32_t max, int pad) {
  volatile char* buf = static_cast<char*>(__builtin_alloca(static_cast<std::size_t>(pad)));
  buf[0] = 0;
  Walk w = take(&from_a, memo, max);
  g_sink = g_sink + buf[0];
  return w;
}
__attribute__((noinline)) Walk lifted_x(WalkMemo* memo, std::uint32_t max, int pad) {
  volatile char* buf = static_cast<char*>(__builtin_alloca(static_cast<std::size_t>(pad)));
  buf[0] = 0;
  Walk w = shifted(memo, max, 256 - pad);
  g_sink = g_sink + buf[0] + 1;
  return w;
}
__attribute__((noinline)) Walk lifted_y(WalkMemo* memo, std::uint32_t max, int pad) {
  volatile char* buf = static_cast<char*>(__builtin_alloca(static_cast<std::size_t>(pad)));
  buf[0] = 0;
  Walk w = shifted(memo, max, 256 - pad);
  g_sink = g_sink + buf[0] + 2;
  return w;
}
__attribute__((noinline)) Walk lift_x(WalkMemo* memo, std::uint32_t max) { return lifted_x(memo, max, 16); }
__attribute__((noinline)) Walk lift_y(WalkMemo* memo, std::uint32_t max) { return lifted_y(memo, max, 48); }

TEST(StackWalk, AFrameRecordThatMovedAboveEqualFramesIsFollowedWhereItIs) {
  lgtest::Tracing tracing;
  static WalkMemo memo;
  // walk_here .. take (5 frames), shifted, lifted_*, lift_*, then take, checked, run and the body.
  constexpr std::uint32_t kMax = kOwnFrames + 3;
  const auto walks = run({{&lift_x, kMax, 4, 0}, {&lift_y, kMax, 0, 0}, {&lift_x, kMax, 0, 0}}, &memo);
  ASSERT_EQ(walks[0].frames.size(), kMax);
  ASSERT_EQ(walks[1].frames.size(), kMax);
  EXPECT_EQ(walks[0].frames[4], walks[1].frames[4]);  // the return into shifted
  EXPECT_NE(walks[0].frames[5], walks[1].frames[5]);  // into lifted_x, into lifted_y
}

// A deep recursion whose bottom call differs: the difference lies past the memo's positions.
__attribute__((noinline)) Walk descend(int depth, Path bottom, WalkMemo* memo, std::uint32_t max) {
  if (depth == 0) return take(bottom, memo, max);
  Walk w = descend(depth - 1, bottom, memo, max);
  g_sink = g_sink + 6;
  return w;
}
__attribute__((noinline)) Walk deep_a(WalkMemo* memo, std::uint32_t max) {
  Walk w = descend(30, &from_a, memo, max);
  g_sink = g_sink + 7;
  return w;
}
__attribute__((noinline)) Walk deep_b(WalkMemo* memo, std::uint32_t max) {
  Walk w = descend(30, &from_a, memo, max);
  g_sink = g_sink + 8;
  return w;
}

TEST(StackWalk, FramesBeyondTheMemoAreWalkedAndNeverTakenFromIt) {
  lgtest::Tracing tracing;
  static WalkMemo memo;
  // from_a's frames up to take's (5), descend's 31, deep_*'s, take's, checked's, run's and the
  // body's: past kMemoSteps, and none of them GoogleTest's.
  constexpr std::uint32_t kMax = 5 + 31 + 5;
  static_assert(kMax > kMemoSteps + 4, "the difference lies past the memo");
  // The memo holds the first kMemoSteps positions only: never the whole stack, so never its id.
  // A walk of exactly kMemoSteps frames that are the memo's: still not the memo's stack.
  const auto walks = run({{&deep_a, kMax, 9, 0}, {&deep_a, kMax, 9, 0}, {&deep_b, kMax, 10, 0},
                          {&deep_b, kMemoSteps, 0, 0}},
                         &memo);
  const Walk& a = walks[1];
  const Walk& b = walks[2];
  ASSERT_EQ(a.frames.size(), kMax);
  ASSERT_EQ(b.frames.size(), kMax);
  std::size_t first_difference = 0;
  while (first_difference < kMax && a.frames[first_difference] == b.frames[first_difference]) ++first_difference;
  EXPECT_GT(first_difference, kMemoSteps);  // the return addresses into deep_a and deep_b
  EXPECT_LT(first_difference, kMax);
}

}  // namespace
}  // namespace leakguard::detail
