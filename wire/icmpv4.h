// ICMP for IPv4 (RFC 792).
//
//   0      1      2          4
//   | Type | Code | Checksum | Rest of header (4 octets: echo id/seq, MTU, pointer, gateway) |
//   | Data ...
//
// RFC 792: "The checksum is the 16-bit ones's complement of the one's complement sum of the ICMP
// message starting with the ICMP Type" -- the whole message, data included, so parse must be given
// exactly the IPv4 payload (Ipv4View::payload(), already trimmed to Total Length).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/checksum.h"
#include "wire/endian.h"
#include "wire/result.h"

namespace pktd::wire {

namespace icmpv4 {
inline constexpr std::uint8_t kEchoReply = 0;
inline constexpr std::uint8_t kDestinationUnreachable = 3;
inline constexpr std::uint8_t kSourceQuench = 4;
inline constexpr std::uint8_t kRedirect = 5;
inline constexpr std::uint8_t kEchoRequest = 8;
inline constexpr std::uint8_t kTimeExceeded = 11;
inline constexpr std::uint8_t kParameterProblem = 12;
inline constexpr std::uint8_t kTimestamp = 13;
inline constexpr std::uint8_t kTimestampReply = 14;
// Destination Unreachable codes (RFC 792, RFC 1191 for 4).
inline constexpr std::uint8_t kPortUnreachable = 3;
inline constexpr std::uint8_t kFragmentationNeeded = 4;
}  // namespace icmpv4

class Icmpv4View {
 public:
  static constexpr std::size_t kHeaderLength = 8;

  // Errors: truncated (fewer than 8 octets), bad_checksum.
  [[nodiscard]] static Result<Icmpv4View> parse(std::span<const std::byte> message,
                                                ChecksumCheck check = ChecksumCheck::verify);

  [[nodiscard]] std::uint8_t type() const { return load_u8(bytes_, 0); }
  [[nodiscard]] std::uint8_t code() const { return load_u8(bytes_, 1); }
  [[nodiscard]] std::uint16_t checksum() const { return load_be16(bytes_, 2); }
  [[nodiscard]] std::uint32_t rest_of_header() const { return load_be32(bytes_, 4); }
  [[nodiscard]] bool is_echo() const { return type() == icmpv4::kEchoRequest || type() == icmpv4::kEchoReply; }
  // RFC 792 Echo / Echo Reply: Identifier and Sequence Number (meaningful when is_echo()).
  [[nodiscard]] std::uint16_t echo_identifier() const { return load_be16(bytes_, 4); }
  [[nodiscard]] std::uint16_t echo_sequence() const { return load_be16(bytes_, 6); }
  // RFC 792 Parameter Problem: Pointer to the octet in error.
  [[nodiscard]] std::uint8_t pointer() const { return load_u8(bytes_, 4); }
  // RFC 1191 4: Next-Hop MTU in a Fragmentation Needed message (0 from pre-1191 routers).
  [[nodiscard]] std::uint16_t next_hop_mtu() const { return load_be16(bytes_, 6); }
  // Echo data, or for errors the original IP header and the first 64 bits of its data (RFC 792).
  [[nodiscard]] std::span<const std::byte> payload() const { return bytes_.subspan(kHeaderLength); }
  [[nodiscard]] std::span<const std::byte> bytes() const { return bytes_; }

 private:
  explicit Icmpv4View(std::span<const std::byte> bytes) : bytes_(bytes) {}
  std::span<const std::byte> bytes_;
};

// The whole message as a value: payload refers to the caller's bytes; emit copies it after the
// header (memmove: it may already be in place) and fills in the checksum. length() = 8 + payload.
struct Icmpv4Message {
  std::uint8_t type = 0;
  std::uint8_t code = 0;
  std::uint32_t rest_of_header = 0;
  std::span<const std::byte> payload;

  [[nodiscard]] static Icmpv4Message echo(std::uint8_t type, std::uint16_t identifier, std::uint16_t sequence,
                                          std::span<const std::byte> data) {
    return {type, 0, (std::uint32_t{identifier} << 16) | sequence, data};
  }
  [[nodiscard]] std::uint16_t echo_identifier() const { return static_cast<std::uint16_t>(rest_of_header >> 16); }
  [[nodiscard]] std::uint16_t echo_sequence() const { return static_cast<std::uint16_t>(rest_of_header & 0xFFFFU); }

  [[nodiscard]] static Result<Icmpv4Message> parse(std::span<const std::byte> message,
                                                   ChecksumCheck check = ChecksumCheck::verify);
  [[nodiscard]] static Icmpv4Message from(const Icmpv4View& view);

  [[nodiscard]] std::size_t length() const { return Icmpv4View::kHeaderLength + payload.size(); }
  // False (nothing written) when out is shorter than length().
  [[nodiscard]] bool emit(std::span<std::byte> out) const;

  friend bool operator==(const Icmpv4Message& a, const Icmpv4Message& b);
};

}  // namespace pktd::wire
