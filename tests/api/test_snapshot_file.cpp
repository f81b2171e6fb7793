// dump()/load() of real snapshots, and a clear SnapshotError for each kind of bad file.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "test_support.hpp"

namespace {

using lgtest::keep;

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/lg_api_" + std::to_string(getpid()) + "_" + name;
}

std::string contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// The message of the SnapshotError load() throws, or a failure.
std::string load_error(const std::string& path) {
  try {
    leakguard::Snapshot::load(path);
  } catch (const leakguard::SnapshotError& e) {
    return e.what();
  }
  ADD_FAILURE() << "load(" << path << ") did not throw";
  return {};
}

void set_u32(std::string& bytes, std::size_t offset, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) bytes[offset + i] = static_cast<char>(v >> (8 * i));
}

void reseal(std::string& bytes) {  // the FNV-1a-64 trailer over everything before it
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i + 8 < bytes.size(); ++i) {
    h ^= static_cast<unsigned char>(bytes[i]);
    h *= 0x100000001b3ull;
  }
  for (int i = 0; i < 8; ++i) bytes[bytes.size() - 8 + i] = static_cast<char>(h >> (8 * i));
}

struct SnapshotFile : ::testing::Test {
  lgtest::Tracing tracing;
  std::string path = temp_path("snap");
  void TearDown() override { std::remove(path.c_str()); }
};

TEST_F(SnapshotFile, RoundTripGivesIdenticalStatistics) {
  void* a = std::malloc(1000);
  void* b = std::malloc(24);
  keep(a);
  keep(b);
  ASSERT_EQ(leakguard::track(5, 0x7000, 64), 0);
  const auto snap = leakguard::take_snapshot();
  snap.dump(path);
  const auto loaded = leakguard::Snapshot::load(path);
  EXPECT_EQ(loaded.traceback_limit(), snap.traceback_limit());
  ASSERT_EQ(loaded.traces().size(), snap.traces().size());
  for (const char* key : {"lineno", "filename", "traceback"}) {
    const auto x = snap.statistics(key), y = loaded.statistics(key);
    ASSERT_EQ(x.size(), y.size()) << key;
    for (std::size_t i = 0; i < x.size(); ++i) {
      EXPECT_EQ(x[i].traceback, y[i].traceback) << key;
      EXPECT_EQ(x[i].size, y[i].size) << key;
      EXPECT_EQ(x[i].count, y[i].count) << key;
    }
  }
  EXPECT_EQ(lgtest::total_size(loaded.filter_traces({leakguard::DomainFilter{true, 5}})), 64u);
  // compare_to between a loaded and a live snapshot works like between two live ones.
  std::free(a);
  const auto diffs = leakguard::take_snapshot().compare_to(loaded, "lineno");
  ASSERT_FALSE(diffs.empty());
  EXPECT_EQ(diffs[0].size_diff, -1000);
  std::free(b);
  leakguard::untrack(5, 0x7000);
}

TEST_F(SnapshotFile, EachKindOfBadFileIsNamedWithItsProblem) {
  const std::string missing = temp_path("does_not_exist");
  EXPECT_EQ(load_error(missing), "leakguard: snapshot '" + missing + "': cannot open: No such file or directory");

  write(path, "");
  EXPECT_EQ(load_error(path), "leakguard: snapshot '" + path + "': empty file, not a leakguard snapshot");

  write(path, "hello, world\n");
  EXPECT_NE(load_error(path).find("not a leakguard snapshot (starts with 68 65 6c 6c"), std::string::npos);

  leakguard::take_snapshot().dump(path);
  const std::string good = contents(path);

  write(path, good.substr(0, good.size() - 5));
  EXPECT_NE(load_error(path).find("checksum mismatch"), std::string::npos);
  write(path, good.substr(0, 12));
  EXPECT_NE(load_error(path).find("truncated"), std::string::npos);

  std::string future = good;
  set_u32(future, 8, 2);
  reseal(future);
  write(path, future);
  EXPECT_EQ(load_error(path),
            "leakguard: snapshot '" + path + "': format version 2; this leakguard reads version 1");

  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x5a;
  write(path, flipped);
  EXPECT_NE(load_error(path).find("corrupt or truncated: checksum mismatch"), std::string::npos);

  // Intact checksum, but the first trace names a traceback that does not exist: the parser itself
  // must catch it. The last trace record ends 8 bytes before the end: u32 traceback index.
  std::string bad_index = good;
  set_u32(bad_index, good.size() - 8 - 4, 0xFFFFFF);
  reseal(bad_index);
  write(path, bad_index);
  EXPECT_NE(load_error(path).find("names traceback 16777215 of"), std::string::npos) << load_error(path);
}

TEST_F(SnapshotFile, AFailedDumpLeavesTheExistingFileIntact) {
  void* p = std::malloc(10);
  keep(p);
  leakguard::take_snapshot().dump(path);
  const std::string before = contents(path);
  ASSERT_EQ(mkdir((path + ".tmp").c_str(), 0700), 0);  // the temporary file cannot be created
  try {
    leakguard::take_snapshot().dump(path);
    ADD_FAILURE() << "dump() did not throw";
  } catch (const leakguard::SnapshotError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  rmdir((path + ".tmp").c_str());
  EXPECT_EQ(contents(path), before);
  EXPECT_NO_THROW(leakguard::Snapshot::load(path));
  EXPECT_THROW(leakguard::take_snapshot().dump("/nonexistent-dir/x/snap.lg"), leakguard::SnapshotError);
  std::free(p);
}

}  // namespace
