#include "transport/tcp/byte_ring.h"

#include <algorithm>
#include <cstring>

namespace pktd::tcp {

namespace {
constexpr std::size_t kFirstCapacity = 4096;
constexpr std::size_t kKeptCapacity = 65536;
}

void ByteRing::grow_to(std::size_t wanted) {
  std::size_t capacity = std::max(storage_.size(), kFirstCapacity);
  while (capacity < wanted) capacity *= 2;
  if (capacity == storage_.size()) return;
  std::vector<std::byte> bigger(capacity);
  copy_out(0, std::span<std::byte>(bigger).first(size_));
  storage_ = std::move(bigger);
  head_ = 0;
}

std::size_t ByteRing::append(std::span<const std::byte> data) {
  const std::size_t n = std::min(data.size(), room());
  if (n == 0) return 0;
  if (size_ + n > storage_.size()) grow_to(size_ + n);
  const std::size_t cap = storage_.size();
  std::size_t tail = (head_ + size_) % cap;
  const std::size_t first = std::min(n, cap - tail);
  std::memcpy(storage_.data() + tail, data.data(), first);
  if (n > first) std::memcpy(storage_.data(), data.data() + first, n - first);
  size_ += n;
  return n;
}

void ByteRing::copy_out(std::size_t offset, std::span<std::byte> out) const {
  if (out.empty()) return;
  const std::size_t cap = storage_.size();
  const std::size_t start = (head_ + offset) % cap;
  const std::size_t first = std::min(out.size(), cap - start);
  std::memcpy(out.data(), storage_.data() + start, first);
  if (out.size() > first) std::memcpy(out.data() + first, storage_.data(), out.size() - first);
}

std::span<const std::byte> ByteRing::front() const {
  if (size_ == 0) return {};
  const std::size_t first = std::min(size_, storage_.size() - head_);
  return std::span<const std::byte>(storage_).subspan(head_, first);
}

void ByteRing::drop_front(std::size_t n) {
  n = std::min(n, size_);
  size_ -= n;
  if (size_ == 0) {
    // A small buffer is kept for the next octets (a busy connection empties its receive ring
    // after nearly every segment); a large one goes back, so idle connections stay cheap.
    head_ = 0;
    if (storage_.size() > kKeptCapacity) clear();
    return;
  }
  head_ = (head_ + n) % storage_.size();
}

void ByteRing::clear() {
  std::vector<std::byte>().swap(storage_);
  head_ = 0;
  size_ = 0;
}

}  // namespace pktd::tcp
