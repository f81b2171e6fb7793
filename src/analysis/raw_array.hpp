// An array in the tracer's own mmap'ed memory. The reachability scan keeps its working copies of
// block addresses here: in the malloc heap, which it scans as a root, even a freed copy would make
// every block look reachable.
#pragma once
#include <cstddef>
#include <new>
#include <type_traits>

#include "core/raw_memory.hpp"

namespace leakguard::detail {

template <class T>
class RawArray {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  RawArray() = default;
  explicit RawArray(std::size_t n) { resize(n); }
  ~RawArray() { raw_free(data_, bytes()); }
  RawArray(RawArray&& other) noexcept : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
  }
  RawArray& operator=(RawArray&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    return *this;
  }
  RawArray(const RawArray&) = delete;
  RawArray& operator=(const RawArray&) = delete;

  // Zero-filled; the old contents are dropped. Throws std::bad_alloc when the system refuses.
  void resize(std::size_t n) {
    raw_free(data_, bytes());
    data_ = nullptr;
    size_ = 0;
    if (n == 0) return;
    data_ = static_cast<T*>(raw_alloc(n * sizeof(T)));
    if (data_ == nullptr) throw std::bad_alloc();
    size_ = n;
  }
  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }
  // The bytes it occupies, for leaving it out of a scan.
  const void* region() const { return data_; }
  std::size_t bytes() const { return size_ * sizeof(T); }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace leakguard::detail
