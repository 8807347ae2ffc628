// TCP sequence numbers (RFC 9293 3.4): a space of 2^32 in which every comparison is modulo 2^32.
// a < b when the distance from a to b, taken as a signed 32-bit number, is positive; it holds for
// numbers less than 2^31 apart, which windows (at most 2^30 with RFC 7323 scaling) respect.
#pragma once

#include <cstdint>

namespace pktd::tcp {

class Seq {
 public:
  constexpr Seq() = default;
  explicit constexpr Seq(std::uint32_t value) : value_(value) {}
  [[nodiscard]] constexpr std::uint32_t value() const { return value_; }

  friend constexpr Seq operator+(Seq a, std::uint32_t n) { return Seq(a.value_ + n); }
  friend constexpr Seq operator-(Seq a, std::uint32_t n) { return Seq(a.value_ - n); }
  Seq& operator+=(std::uint32_t n) {
    value_ += n;
    return *this;
  }
  // The signed distance from b to a (a - b): how far a is ahead of b.
  friend constexpr std::int32_t operator-(Seq a, Seq b) {
    return static_cast<std::int32_t>(a.value_ - b.value_);
  }
  friend constexpr bool operator==(Seq a, Seq b) = default;
  friend constexpr bool operator<(Seq a, Seq b) { return a - b < 0; }
  friend constexpr bool operator>(Seq a, Seq b) { return b < a; }
  friend constexpr bool operator<=(Seq a, Seq b) { return !(b < a); }
  friend constexpr bool operator>=(Seq a, Seq b) { return !(a < b); }

 private:
  std::uint32_t value_ = 0;
};

// start <= x < start + size: x falls in the window of size octets that begins at start (RFC 9293
// 3.4 and 3.10.7.4's acceptability test). An empty window holds nothing.
constexpr bool in_window(Seq x, Seq start, std::uint32_t size) {
  return static_cast<std::uint32_t>(x - start) < size;
}

// The later of two sequence numbers.
constexpr Seq later(Seq a, Seq b) { return a < b ? b : a; }

}  // namespace pktd::tcp
