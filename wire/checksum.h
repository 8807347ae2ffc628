// The Internet checksum (RFC 1071): the 16-bit one's complement of the one's complement sum.
//
// InternetChecksum accumulates incrementally (RFC 1071 2.(4) "Incremental update") so a
// pseudo-header (RFC 768, RFC 793) and the message can be summed without copying them together.
// Chunks of odd length are allowed: the next chunk continues at the odd octet, as if contiguous.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

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
    if (!std::is_constant_evaluated() && data.size() - i >= kWideMinimum) {
      const std::size_t wide = (data.size() - i) & ~std::size_t{3};
      sum_ += sum_words_wide(data.data() + i, wide);
      i += wide;
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
    return static_cast<std::uint16_t>(~fold(sum_) & 0xFFFFU);
  }

  // For a receiver that summed the checksum field too: valid when the folded sum is 0xFFFF.
  [[nodiscard]] constexpr bool verifies() const { return finish() == 0; }

 private:
  // Below this a chunk is summed word by word (headers); payloads take the wide path.
  static constexpr std::size_t kWideMinimum = 32;

  // The sum of n octets (a multiple of 4) as big-endian 16-bit words, folded to 16 bits. Four
  // octets at a time in host order: RFC 1071 2.(C) lets 32-bit words accumulate in 64 bits
  // with their carries folded back at the end, and 2.(B) makes the sum of byte-swapped words
  // the byte-swapped sum, so a little-endian host swaps the folded result once.
  static std::uint64_t sum_words_wide(const std::byte* p, std::size_t n) {
    std::uint64_t wide = 0;
    for (std::size_t k = 0; k < n; k += 4) {
      std::uint32_t word = 0;
      std::memcpy(&word, p + k, sizeof word);
      wide += word;
    }
    auto folded = static_cast<std::uint16_t>(fold(wide));
    if constexpr (std::endian::native == std::endian::little)
      folded = static_cast<std::uint16_t>((folded << 8) | (folded >> 8));
    return folded;
  }

  // RFC 1071 2.(2), end-around carry, down to 16 bits.
  static constexpr std::uint64_t fold(std::uint64_t s) {
    while ((s >> 16) != 0) s = (s & 0xFFFFU) + (s >> 16);
    return s;
  }

  std::uint64_t sum_ = 0;
  bool odd_ = false;
};

[[nodiscard]] constexpr std::uint16_t internet_checksum(std::span<const std::byte> data) {
  InternetChecksum sum;
  sum.add(data);
  return sum.finish();
}

}  // namespace pktd::wire
