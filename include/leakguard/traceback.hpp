// Frames and tracebacks of traced blocks, symbolized (function, file:line, inlined call sites)
// from the raw return addresses the tracer records.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "leakguard/export.hpp"

namespace leakguard {

struct LEAKGUARD_API Frame {
  std::string filename;   // source file; empty when the module has no debug info
  int lineno = 0;         // 0 when unknown
  std::string function;   // demangled; empty when even the symbol is unknown
  std::string module;     // the ELF object (executable or shared library)
  std::uintptr_t module_offset = 0;  // address within the module, for addr2line
  // An inlined call site: this frame shares its machine address with the next frame outward,
  // whose function the compiler inlined this one into.
  bool inlined = false;

  bool has_source() const { return !filename.empty() && lineno > 0; }
  // "file.cpp:42", or without debug info "function (module+0x1a2b)".
  std::string str() const;

  friend bool operator==(const Frame& a, const Frame& b);
  friend bool operator!=(const Frame& a, const Frame& b) { return !(a == b); }
  friend bool operator<(const Frame& a, const Frame& b);
};

// The call stack of one allocation, most recent call first: frames()[0] is where the block was
// allocated (never a leakguard or allocator frame). Note Python >= 3.7 orders its Traceback the
// other way; format() follows Python (oldest first) unless most_recent_first is set.
class LEAKGUARD_API Traceback {
 public:
  Traceback() = default;
  // total_nframe: frames captured before expansion of inlined calls (tracemalloc's
  // total_nframe is the depth before truncation; here truncated stacks report the limit).
  Traceback(std::vector<Frame> frames, std::size_t total_nframe);

  const std::vector<Frame>& frames() const { return frames_; }
  std::size_t size() const { return frames_.size(); }
  bool empty() const { return frames_.empty(); }
  const Frame& operator[](std::size_t i) const { return frames_[i]; }
  std::vector<Frame>::const_iterator begin() const { return frames_.begin(); }
  std::vector<Frame>::const_iterator end() const { return frames_.end(); }
  std::size_t total_nframe() const { return total_nframe_; }

  // Index of the frame statistics attribute the block to: the most recent frame that is not in
  // the C or C++ runtime or leakguard (see attribution.hpp). 0 when every frame is.
  std::size_t attribution_index() const { return attribution_; }
  const Frame& attribution_frame() const { return frames_[attribution_]; }

  // Lines as Python's traceback.format(): for each frame
  //   '  File "file.cpp", line 42, in function'
  //   '    <source line>'            (when the source file is readable)
  // limit > 0 keeps the limit most recent frames, limit < 0 the -limit oldest, 0 all. When no frame
  // of a module that is not system code has file:line, a last line names the module and says
  // how to get it: '  (no file:line for /path/app: built without debug info; ...)'.
  std::vector<std::string> format(int limit = 0, bool most_recent_first = false) const;
  // str() of the attribution frame, as tracemalloc's str(traceback) is that of its frame.
  std::string str() const;

  friend bool operator==(const Traceback& a, const Traceback& b) { return a.frames_ == b.frames_; }
  friend bool operator!=(const Traceback& a, const Traceback& b) { return !(a == b); }
  friend bool operator<(const Traceback& a, const Traceback& b) { return a.frames_ < b.frames_; }

 private:
  std::vector<Frame> frames_;
  std::size_t total_nframe_ = 0;
  std::size_t attribution_ = 0;
};

// The text of line `lineno` of `filename`, with leading and trailing blanks removed, or "" when
// the file cannot be read. Files are read once and cached.
LEAKGUARD_API std::string source_line(const std::string& filename, int lineno);

}  // namespace leakguard
