// ARP for Ethernet/IPv4 (RFC 826). Other hardware or protocol types are rejected with a reason.
//
//   0        2        4     5     6      8         14        18        24        28
//   | ar$hrd | ar$pro | hln | pln | ar$op | ar$sha  | ar$spa  | ar$tha  | ar$tpa  |
//
// Octets after 28 (Ethernet padding to the 60-octet minimum) are ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/address.h"
#include "wire/result.h"

namespace pktd::wire {

inline constexpr std::uint16_t kArpHardwareEthernet = 1;  // RFC 826 ares_hrd$Ethernet

enum class ArpOperation : std::uint16_t { request = 1, reply = 2 };  // RFC 826 ares_op$REQUEST/REPLY

class ArpView {
 public:
  static constexpr std::size_t kFixedLength = 8;   // hrd, pro, hln, pln, op
  static constexpr std::size_t kLength = 28;       // with 6-octet MACs and 4-octet IPv4 addresses

  // Errors: truncated, unsupported_hardware, unsupported_protocol, bad_address_length, bad_operation.
  [[nodiscard]] static Result<ArpView> parse(std::span<const std::byte> packet);

  [[nodiscard]] ArpOperation operation() const { return static_cast<ArpOperation>(load_be16(bytes_, 6)); }
  [[nodiscard]] MacAddress sender_mac() const { return load_mac(bytes_, 8); }
  [[nodiscard]] Ipv4Address sender_ip() const { return load_ipv4(bytes_, 14); }
  [[nodiscard]] MacAddress target_mac() const { return load_mac(bytes_, 18); }
  [[nodiscard]] Ipv4Address target_ip() const { return load_ipv4(bytes_, 24); }
  [[nodiscard]] std::span<const std::byte> bytes() const { return bytes_; }

 private:
  explicit ArpView(std::span<const std::byte> bytes) : bytes_(bytes) {}
  std::span<const std::byte> bytes_;  // exactly kLength octets
};

struct ArpPacket {
  ArpOperation operation = ArpOperation::request;
  MacAddress sender_mac;
  Ipv4Address sender_ip;
  MacAddress target_mac;  // RFC 826: "does not matter" in a request; pktd sends zeros
  Ipv4Address target_ip;

  [[nodiscard]] static Result<ArpPacket> parse(std::span<const std::byte> packet);
  [[nodiscard]] static ArpPacket from(const ArpView& view);

  [[nodiscard]] static constexpr std::size_t length() { return ArpView::kLength; }
  // False when out is shorter than 28 octets or operation is neither request nor reply.
  [[nodiscard]] bool emit(std::span<std::byte> out) const;

  friend bool operator==(const ArpPacket&, const ArpPacket&) = default;
};

}  // namespace pktd::wire
