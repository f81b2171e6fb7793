// Every way a snapshot file can be damaged must end in a SnapshotError naming the file, never a
// crash, an out-of-bounds read (this test runs under ASan in CI) or a silently wrong snapshot.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "leakguard/snapshot.hpp"

namespace leakguard {
namespace {

std::string temp_path(const char* name) {
  return ::testing::TempDir() + "/lg_fuzz_" + std::to_string(getpid()) + "_" + name;
}

std::vector<char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

Snapshot sample() {
  Frame a;
  a.filename = "/src/a.cpp";
  a.lineno = 10;
  a.function = "f()";
  a.module = "/bin/app";
  a.module_offset = 0x1234;
  Frame b = a;
  b.lineno = 11;
  b.inlined = true;
  auto t1 = std::make_shared<const Traceback>(std::vector<Frame>{b, a}, 1);
  auto t2 = std::make_shared<const Traceback>(std::vector<Frame>{a}, 1);
  return Snapshot({Trace{0, 64, t1}, Trace{3, 4096, t2}, Trace{0, 8, t1}}, 16);
}

void expect_load_error(const std::string& path, const std::string& context) {
  try {
    Snapshot::load(path);
    ADD_FAILURE() << context << ": load() accepted a damaged file";
  } catch (const SnapshotError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << context << ": " << e.what();
  }
}

TEST(SnapshotFileFuzz, RoundTripKeepsEveryField) {
  const std::string path = temp_path("ok");
  sample().dump(path);
  const Snapshot loaded = Snapshot::load(path);
  const Snapshot original = sample();
  ASSERT_EQ(loaded.traces().size(), 3u);
  EXPECT_EQ(loaded.traceback_limit(), 16);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(loaded.traces()[i].size, original.traces()[i].size);
    EXPECT_EQ(loaded.traces()[i].domain, original.traces()[i].domain);
    EXPECT_EQ(loaded.traces()[i].traceback(), original.traces()[i].traceback());
  }
  EXPECT_TRUE(loaded.traces()[0].traceback()[0].inlined);
  EXPECT_EQ(loaded.traces()[1].traceback()[0].module_offset, 0x1234u);
  std::remove(path.c_str());
}

TEST(SnapshotFileFuzz, ADirectoryIsNamedNotThrownAsAStreamError) {
  const std::string dir = temp_path("dir");
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  try {
    Snapshot::load(dir);
    ADD_FAILURE() << "load() accepted a directory";
  } catch (const SnapshotError& e) {
    EXPECT_EQ(std::string(e.what()), "leakguard: snapshot '" + dir + "': is a directory, not a snapshot file");
  }
  ::rmdir(dir.c_str());
}

TEST(SnapshotFileFuzz, EveryTruncationIsReported) {
  const std::string good = temp_path("good");
  sample().dump(good);
  const std::vector<char> bytes = read_all(good);
  ASSERT_GT(bytes.size(), 40u);
  const std::string cut = temp_path("cut");
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    write_all(cut, std::vector<char>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)));
    expect_load_error(cut, "cut at " + std::to_string(n));
  }
  std::remove(good.c_str());
  std::remove(cut.c_str());
}

TEST(SnapshotFileFuzz, EveryFlippedByteIsReported) {
  const std::string good = temp_path("good2");
  sample().dump(good);
  const std::vector<char> bytes = read_all(good);
  const std::string bad = temp_path("flip");
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (const unsigned char mask : {0x01, 0x80, 0xff}) {
      std::vector<char> copy = bytes;
      copy[i] = static_cast<char>(static_cast<unsigned char>(copy[i]) ^ mask);
      write_all(bad, copy);
      expect_load_error(bad, "byte " + std::to_string(i) + " ^ " + std::to_string(mask));
    }
  }
  std::remove(good.c_str());
  std::remove(bad.c_str());
}

// The format ends with an FNV-1a-64 checksum of everything before it (snapshot_file.cpp). With the
// checksum recomputed, damaged bytes reach the parser itself: it must reject them or produce a
// snapshot, and never read out of bounds.
void reseal(std::vector<char>& bytes) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i + 8 < bytes.size(); ++i) {
    h ^= static_cast<unsigned char>(bytes[i]);
    h *= 0x100000001b3ull;
  }
  for (std::size_t i = 0; i < 8; ++i) bytes[bytes.size() - 8 + i] = static_cast<char>(h >> (8 * i));
}

TEST(SnapshotFileFuzz, DamageBehindAValidChecksumIsRejectedOrParsedNeverCrashes) {
  const std::string good = temp_path("good3");
  sample().dump(good);
  const std::vector<char> bytes = read_all(good);
  {
    std::vector<char> copy = bytes;
    reseal(copy);
    ASSERT_EQ(copy, bytes) << "reseal() must reproduce the writer's checksum";
  }
  const std::string bad = temp_path("sealed");
  int rejected = 0;
  for (std::size_t i = 8; i + 8 < bytes.size(); ++i) {
    for (const unsigned char value : {0x00, 0x01, 0x7f, 0xff}) {
      std::vector<char> copy = bytes;
      if (static_cast<unsigned char>(copy[i]) == value) continue;
      copy[i] = static_cast<char>(value);
      reseal(copy);
      write_all(bad, copy);
      try {
        const Snapshot s = Snapshot::load(bad);
        for (const Trace& t : s.traces()) (void)t.traceback().str();
      } catch (const SnapshotError& e) {
        ++rejected;
        EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
      }
    }
  }
  // Counts, indexes and the version are all checked, so most damage is caught by the parser.
  EXPECT_GT(rejected, 50);
  std::remove(good.c_str());
  std::remove(bad.c_str());
}

}  // namespace
}  // namespace leakguard
