// Link and network addresses as plain values (no state, no allocation).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/endian.h"

namespace pktd::wire {

// IEEE 802 48-bit MAC address, octets in transmission order.
struct MacAddress {
  std::array<std::uint8_t, 6> octets{};

  static constexpr MacAddress broadcast() { return {{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}}; }
  [[nodiscard]] constexpr bool is_broadcast() const { return *this == broadcast(); }
  // IEEE 802: the I/G bit (least significant bit of the first octet) marks group addresses.
  [[nodiscard]] constexpr bool is_multicast() const { return (octets[0] & 0x01U) != 0; }
  friend constexpr bool operator==(const MacAddress&, const MacAddress&) = default;
};

// IPv4 address held in host order; value 0xC0000201 is 192.0.2.1.
struct Ipv4Address {
  std::uint32_t value = 0;

  static constexpr Ipv4Address from_octets(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return {(std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | std::uint32_t{d}};
  }
  friend constexpr bool operator==(const Ipv4Address&, const Ipv4Address&) = default;
};

constexpr MacAddress load_mac(std::span<const std::byte> b, std::size_t offset) {
  MacAddress mac;
  for (std::size_t i = 0; i < mac.octets.size(); ++i) mac.octets[i] = load_u8(b, offset + i);
  return mac;
}

constexpr void store_mac(std::span<std::byte> b, std::size_t offset, const MacAddress& mac) {
  for (std::size_t i = 0; i < mac.octets.size(); ++i) store_u8(b, offset + i, mac.octets[i]);
}

constexpr Ipv4Address load_ipv4(std::span<const std::byte> b, std::size_t offset) {
  return {load_be32(b, offset)};
}

constexpr void store_ipv4(std::span<std::byte> b, std::size_t offset, Ipv4Address address) {
  store_be32(b, offset, address.value);
}

}  // namespace pktd::wire
