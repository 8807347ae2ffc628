// A queue of octets in one circular buffer: TCP's send buffer (data the application gave and the
// peer has not acknowledged) and its receive buffer (data in order the application has not taken).
//
// Storage grows by doubling as octets arrive, up to the limit the owner sets; a large buffer is
// given back when the ring empties, so an idle connection costs at most 64 KiB whatever its limit
// (and nothing until it first holds data). Stack context only.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace pktd::tcp {

class ByteRing {
 public:
  explicit ByteRing(std::size_t limit) : limit_(limit) {}

  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] bool empty() const { return size_ == 0; }
  [[nodiscard]] std::size_t limit() const { return limit_; }
  // Octets append may still take.
  [[nodiscard]] std::size_t room() const { return size_ < limit_ ? limit_ - size_ : 0; }
  // A smaller limit never drops octets held: it only stops appends until the ring drains.
  void set_limit(std::size_t limit) { limit_ = limit; }

  // Appends as much of data as room() allows; returns how much.
  std::size_t append(std::span<const std::byte> data);
  // Copies out.size() octets starting offset octets from the front (offset + out.size() <= size()).
  void copy_out(std::size_t offset, std::span<std::byte> out) const;
  // The contiguous run of octets at the front (all of them unless they wrap around the end).
  [[nodiscard]] std::span<const std::byte> front() const;
  // Forgets the first n octets (n <= size()).
  void drop_front(std::size_t n);
  void clear();

 private:
  void grow_to(std::size_t wanted);

  std::vector<std::byte> storage_;
  std::size_t head_ = 0;  // index of the first octet in storage_
  std::size_t size_ = 0;
  std::size_t limit_;
};

}  // namespace pktd::tcp
