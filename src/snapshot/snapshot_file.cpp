// The snapshot file format (version 1). All integers little-endian.
//
//   header   "LGSNAP\r\n" u32 version=1  i32 traceback_limit
//   strings  u64 n, n x (u32 length, bytes)
//   frames   u64 n, n x (u32 filename, i32 lineno, u32 function, u32 module, u64 module_offset,
//                        u8 inlined)                       string indexes
//   tracebacks u64 n, n x (u32 total_nframe, u32 nframes, nframes x u32 frame index)
//   traces   u64 n, n x (u32 domain, u64 size, u32 traceback index)
//   trailer  u64 FNV-1a-64 of every byte before it
//
// The \r\n in the magic catches files mangled by text-mode transfers. Readers check the magic,
// the version and the checksum before parsing, and every count and index against what is left.
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>

#include "leakguard/snapshot.hpp"
#include "core/tracer.hpp"

namespace leakguard {
namespace {

constexpr char kMagic[8] = {'L', 'G', 'S', 'N', 'A', 'P', '\r', '\n'};
constexpr std::uint32_t kVersion = 1;

std::uint64_t fnv1a(const unsigned char* data, std::size_t n) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= data[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

class Writer {
 public:
  template <class T>
  void put(T v) {
    unsigned char b[sizeof(T)];
    for (std::size_t i = 0; i < sizeof(T); ++i) b[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(v) >> (8 * i));
    bytes_.insert(bytes_.end(), b, b + sizeof(T));
  }
  void put_bytes(const void* p, std::size_t n) {
    const auto* c = static_cast<const unsigned char*>(p);
    bytes_.insert(bytes_.end(), c, c + n);
  }
  std::vector<unsigned char>& bytes() { return bytes_; }

 private:
  std::vector<unsigned char> bytes_;
};

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw SnapshotError("leakguard: snapshot '" + path + "': " + what);
}

class Reader {
 public:
  Reader(const std::string& path, const std::vector<unsigned char>& data, std::size_t end)
      : path_(path), data_(data), end_(end) {}
  template <class T>
  T get(const char* what) {
    need(sizeof(T), what);
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) v |= std::uint64_t{data_[pos_ + i]} << (8 * i);
    pos_ += sizeof(T);
    return static_cast<T>(v);
  }
  std::string get_string(const char* what) {
    const auto len = get<std::uint32_t>(what);
    need(len, what);
    std::string s(reinterpret_cast<const char*>(data_.data() + pos_), len);
    pos_ += len;
    return s;
  }
  // A count of records of at least min_record bytes each must fit in what is left.
  std::uint64_t get_count(const char* what, std::size_t min_record) {
    const auto n = get<std::uint64_t>(what);
    if (min_record != 0 && n > (end_ - pos_) / min_record) {
      std::ostringstream msg;
      msg << "truncated or corrupt: " << what << " count " << n << " needs at least " << n * min_record
          << " bytes at offset " << pos_ << ", only " << (end_ - pos_) << " remain";
      fail(path_, msg.str());
    }
    return n;
  }
  std::size_t pos() const { return pos_; }

 private:
  void need(std::size_t n, const char* what) {
    if (n > end_ - pos_) {
      std::ostringstream msg;
      msg << "truncated: reading " << what << " at offset " << pos_ << " needs " << n
          << " bytes, only " << (end_ - pos_) << " remain";
      fail(path_, msg.str());
    }
  }
  const std::string& path_;
  const std::vector<unsigned char>& data_;
  std::size_t end_;
  std::size_t pos_ = 0;
};

std::string hex_prefix(const std::vector<unsigned char>& data) {
  std::ostringstream out;
  out << std::hex;
  for (std::size_t i = 0; i < data.size() && i < 8; ++i) {
    out << (i ? " " : "") << (data[i] < 16 ? "0" : "") << static_cast<int>(data[i]);
  }
  return out.str();
}

}  // namespace

void Snapshot::dump(const std::string& path) const {
  detail::UntracedScope untraced;
  Writer w;
  w.put_bytes(kMagic, sizeof kMagic);
  w.put<std::uint32_t>(kVersion);
  w.put<std::int32_t>(traceback_limit_);

  std::vector<const std::string*> strings;
  std::unordered_map<std::string, std::uint32_t> string_ids;
  auto intern = [&](const std::string& s) {
    auto [it, inserted] = string_ids.emplace(s, static_cast<std::uint32_t>(strings.size()));
    if (inserted) strings.push_back(&it->first);
    return it->second;
  };
  std::map<Frame, std::uint32_t> frame_ids;
  std::vector<const Frame*> frames;
  std::unordered_map<const Traceback*, std::uint32_t> tb_ids;
  std::vector<const Traceback*> tbs;
  for (const Trace& t : traces_) {
    if (!tb_ids.emplace(t.traceback_ptr.get(), static_cast<std::uint32_t>(tbs.size())).second) continue;
    tbs.push_back(t.traceback_ptr.get());
    for (const Frame& f : t.traceback()) {
      auto [it, inserted] = frame_ids.emplace(f, static_cast<std::uint32_t>(frames.size()));
      if (inserted) {
        frames.push_back(&it->first);
        intern(f.filename);
        intern(f.function);
        intern(f.module);
      }
    }
  }
  w.put<std::uint64_t>(strings.size());
  for (const std::string* s : strings) {
    w.put<std::uint32_t>(static_cast<std::uint32_t>(s->size()));
    w.put_bytes(s->data(), s->size());
  }
  w.put<std::uint64_t>(frames.size());
  for (const Frame* f : frames) {
    w.put<std::uint32_t>(string_ids[f->filename]);
    w.put<std::int32_t>(f->lineno);
    w.put<std::uint32_t>(string_ids[f->function]);
    w.put<std::uint32_t>(string_ids[f->module]);
    w.put<std::uint64_t>(f->module_offset);
    w.put<std::uint8_t>(f->inlined ? 1 : 0);
  }
  w.put<std::uint64_t>(tbs.size());
  for (const Traceback* tb : tbs) {
    w.put<std::uint32_t>(static_cast<std::uint32_t>(tb->total_nframe()));
    w.put<std::uint32_t>(static_cast<std::uint32_t>(tb->size()));
    for (const Frame& f : *tb) w.put<std::uint32_t>(frame_ids[f]);
  }
  w.put<std::uint64_t>(traces_.size());
  for (const Trace& t : traces_) {
    w.put<std::uint32_t>(t.domain);
    w.put<std::uint64_t>(t.size);
    w.put<std::uint32_t>(tb_ids[t.traceback_ptr.get()]);
  }
  w.put<std::uint64_t>(fnv1a(w.bytes().data(), w.bytes().size()));

  // Write beside the target and rename, so a failed dump never destroys an existing file.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail(path, std::string("cannot write '") + tmp + "': " + std::strerror(errno));
    out.write(reinterpret_cast<const char*>(w.bytes().data()), static_cast<std::streamsize>(w.bytes().size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      fail(path, std::string("write failed: ") + std::strerror(errno));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string err = std::strerror(errno);
    std::remove(tmp.c_str());
    fail(path, "cannot replace the file: " + err);
  }
}

Snapshot Snapshot::load(const std::string& path) {
  detail::UntracedScope untraced;  // a loaded snapshot is the tracer's data, as a taken one is
  // A directory opens as a stream, and reading it throws std::ios_base::failure, not ours.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) fail(path, "is a directory, not a snapshot file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::vector<unsigned char> data;
  try {
    data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::ios_base::failure& e) {
    fail(path, std::string("read error: ") + e.what());
  }
  if (in.bad()) fail(path, "read error");
  constexpr std::size_t kHeader = sizeof kMagic + 8, kTrailer = 8;
  if (data.size() < sizeof kMagic || std::memcmp(data.data(), kMagic, sizeof kMagic) != 0) {
    fail(path, data.empty() ? "empty file, not a leakguard snapshot"
                            : "not a leakguard snapshot (starts with " + hex_prefix(data) + ")");
  }
  if (data.size() < kHeader + kTrailer) {
    fail(path, "truncated: " + std::to_string(data.size()) + " bytes, a snapshot has at least " +
                   std::to_string(kHeader + kTrailer));
  }
  Reader r(path, data, data.size() - kTrailer);
  r.get<std::uint64_t>("magic");
  const auto version = r.get<std::uint32_t>("version");
  if (version != kVersion) {
    fail(path, "format version " + std::to_string(version) + "; this leakguard reads version " +
                   std::to_string(kVersion));
  }
  std::uint64_t stored = 0;
  for (std::size_t i = 0; i < 8; ++i) stored |= std::uint64_t{data[data.size() - kTrailer + i]} << (8 * i);
  const std::uint64_t computed = fnv1a(data.data(), data.size() - kTrailer);
  if (stored != computed) {
    std::ostringstream msg;
    msg << "corrupt or truncated: checksum mismatch (stored 0x" << std::hex << stored << ", computed 0x"
        << computed << ")";
    fail(path, msg.str());
  }
  const auto limit = r.get<std::int32_t>("traceback limit");

  std::vector<std::string> strings(r.get_count("string", 4));
  for (auto& s : strings) s = r.get_string("string");
  auto string_at = [&](std::uint32_t i, const char* what) -> const std::string& {
    if (i >= strings.size()) {
      fail(path, std::string("corrupt: ") + what + " names string " + std::to_string(i) + " of " +
                     std::to_string(strings.size()));
    }
    return strings[i];
  };
  std::vector<Frame> frames(r.get_count("frame", 25));
  for (Frame& f : frames) {
    f.filename = string_at(r.get<std::uint32_t>("frame"), "a frame's file");
    f.lineno = r.get<std::int32_t>("frame");
    f.function = string_at(r.get<std::uint32_t>("frame"), "a frame's function");
    f.module = string_at(r.get<std::uint32_t>("frame"), "a frame's module");
    f.module_offset = r.get<std::uint64_t>("frame");
    f.inlined = r.get<std::uint8_t>("frame") != 0;
  }
  std::vector<std::shared_ptr<const Traceback>> tbs(r.get_count("traceback", 8));
  for (auto& tb : tbs) {
    const auto total = r.get<std::uint32_t>("traceback");
    const auto n = r.get<std::uint32_t>("traceback");
    std::vector<Frame> fs;
    for (std::uint32_t i = 0; i < n; ++i) {
      const auto idx = r.get<std::uint32_t>("traceback frame");
      if (idx >= frames.size()) {
        fail(path, "corrupt: a traceback names frame " + std::to_string(idx) + " of " +
                       std::to_string(frames.size()));
      }
      fs.push_back(frames[idx]);
    }
    tb = std::make_shared<const Traceback>(std::move(fs), total);
  }
  std::vector<Trace> traces(r.get_count("trace", 16));
  for (std::size_t i = 0; i < traces.size(); ++i) {
    traces[i].domain = r.get<std::uint32_t>("trace");
    traces[i].size = r.get<std::uint64_t>("trace");
    const auto idx = r.get<std::uint32_t>("trace");
    if (idx >= tbs.size()) {
      fail(path, "corrupt: trace " + std::to_string(i) + " names traceback " + std::to_string(idx) +
                     " of " + std::to_string(tbs.size()));
    }
    traces[i].traceback_ptr = tbs[idx];
  }
  if (r.pos() != data.size() - kTrailer) {
    fail(path, "corrupt: " + std::to_string(data.size() - kTrailer - r.pos()) +
                   " unexpected bytes before the checksum");
  }
  return Snapshot(std::move(traces), limit);
}

}  // namespace leakguard
