// The Internet checksum (RFC 1071): the 16-bit one's complement of the one's complement sum.
//
// InternetChecksum accumulates incrementally (RFC 1071 2.(4) "Incremental update") so a
// pseudo-header (RFC 768, RFC 793) and the message can be summed without copying them together.
// Chunks of odd length are allowed: the next chunk continues at the odd octet, as if contiguous.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/endian.h"

namespace pktd::wire {

// Whether parse verifies a checksum. `skip` is for frames whose checksum hardware (or the TAP vnet
// header's VIRTIO_NET_HDR_F_DATA_VALID) already checked.
enum class ChecksumCheck : bool { verify, skip };

class InternetChecksum {
 public:
  constexpr void add(std::span<const std::byte> data) {
    std::size_t i = 0;
    if (odd_ && !data.empty()) {  // low octet of the 16-bit word started by the previous chunk
      sum_ += load_u8(data, 0);
      odd_ = false;
      i = 1;
    }
    // RFC 1071 2.(1): byte order independence lets us sum big-endian words as loaded.
    for (; i + 1 < data.size(); i += 2) sum_ += load_be16(data, i);
    if (i < data.size()) {  // RFC 1071 4.1: an odd trailing octet is padded with zero on the right
      sum_ += std::uint64_t{load_u8(data, i)} << 8;
      odd_ = true;
    }
  }

  constexpr void add_u16(std::uint16_t value) {
    std::byte bytes[2]{};
    store_be16(bytes, 0, value);
    add(bytes);
  }

  constexpr void add_u32(std::uint32_t value) {
    std::byte bytes[4]{};
    store_be32(bytes, 0, value);
    add(bytes);
  }

  // The checksum field value: the complement of the folded sum (RFC 1071 2.(2), end-around carry).
  [[nodiscard]] constexpr std::uint16_t finish() const {
    std::uint64_t s = sum_;
    while ((s >> 16) != 0) s = (s & 0xFFFFU) + (s >> 16);
    return static_cast<std::uint16_t>(~s & 0xFFFFU);
  }

  // For a receiver that summed the checksum field too: valid when the folded sum is 0xFFFF.
  [[nodiscard]] constexpr bool verifies() const { return finish() == 0; }

 private:
  std::uint64_t sum_ = 0;
  bool odd_ = false;
};

[[nodiscard]] constexpr std::uint16_t internet_checksum(std::span<const std::byte> data) {
  InternetChecksum sum;
  sum.add(data);
  return sum.finish();
}

}  // namespace pktd::wire
