// Big-endian ("network order", RFC 791 Appendix B) loads and stores at fixed offsets.
//
// Headers are read octet by octet through these helpers: never packed structs, bitfields or a
// reinterpret_cast of the buffer (STYLE.md "Wire formats"). Callers check bounds once, in parse;
// std::span's operator[] is checked again under _GLIBCXX_ASSERTIONS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace pktd::wire {

constexpr std::uint8_t load_u8(std::span<const std::byte> b, std::size_t offset) {
  return std::to_integer<std::uint8_t>(b[offset]);
}

constexpr std::uint16_t load_be16(std::span<const std::byte> b, std::size_t offset) {
  return static_cast<std::uint16_t>((unsigned{load_u8(b, offset)} << 8) | unsigned{load_u8(b, offset + 1)});
}

constexpr std::uint32_t load_be32(std::span<const std::byte> b, std::size_t offset) {
  return (std::uint32_t{load_be16(b, offset)} << 16) | std::uint32_t{load_be16(b, offset + 2)};
}

constexpr void store_u8(std::span<std::byte> b, std::size_t offset, std::uint8_t value) {
  b[offset] = std::byte{value};
}

constexpr void store_be16(std::span<std::byte> b, std::size_t offset, std::uint16_t value) {
  store_u8(b, offset, static_cast<std::uint8_t>(value >> 8));
  store_u8(b, offset + 1, static_cast<std::uint8_t>(value & 0xFFU));
}

constexpr void store_be32(std::span<std::byte> b, std::size_t offset, std::uint32_t value) {
  store_be16(b, offset, static_cast<std::uint16_t>(value >> 16));
  store_be16(b, offset + 2, static_cast<std::uint16_t>(value & 0xFFFFU));
}

}  // namespace pktd::wire
