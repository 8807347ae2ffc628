// IPv4 header (RFC 791 3.1).
//
//   0       1       2       3
//   |Ver|IHL|  TOS  |  Total Length  |
//   | Identification |Flg| Frag Off  |
//   |  TTL  | Proto |    Checksum    |
//   |         Source Address         |
//   |      Destination Address       |
//   |    Options (IHL*4 - 20)  ...   |
//
// parse validates, in this order: 20 octets present (truncated), Version 4 (bad_version), IHL >= 5
// (bad_header_length), IHL*4 octets present (truncated), Total Length >= IHL*4 (bad_total_length),
// Total Length <= buffer (truncated: like Linux's InTruncatedPkts, a lying length cannot be told
// from a cut frame), header checksum (bad_checksum), fragment fields (bad_fragment).
// Octets beyond Total Length (Ethernet padding) are not part of the payload.
// Options are not interpreted: options() exposes them (RFC 1122 3.2.1.8: ignore those not understood).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/address.h"
#include "wire/checksum.h"
#include "wire/result.h"

namespace pktd::wire {

inline constexpr std::uint8_t kIpProtocolIcmp = 1;
inline constexpr std::uint8_t kIpProtocolTcp = 6;
inline constexpr std::uint8_t kIpProtocolUdp = 17;

// The pseudo-header that UDP (RFC 768) and TCP (RFC 793 3.1) add to their checksum.
struct Ipv4PseudoHeader {
  Ipv4Address source;
  Ipv4Address destination;
  std::uint8_t protocol = 0;
  std::uint16_t length = 0;  // of the transport header and data

  constexpr void add_to(InternetChecksum& sum) const {
    sum.add_u32(source.value);
    sum.add_u32(destination.value);
    sum.add_u16(protocol);  // a zero octet, then the protocol
    sum.add_u16(length);
  }
  // A checksum that has summed the pseudo-header, ready for the transport header and data.
  [[nodiscard]] constexpr InternetChecksum start_sum() const {
    InternetChecksum sum;
    add_to(sum);
    return sum;
  }
};

class Ipv4View {
 public:
  static constexpr std::size_t kMinHeaderLength = 20;
  static constexpr std::size_t kMaxHeaderLength = 60;
  static constexpr std::size_t kMaxTotalLength = 65535;

  [[nodiscard]] static Result<Ipv4View> parse(std::span<const std::byte> packet,
                                              ChecksumCheck check = ChecksumCheck::verify);

  [[nodiscard]] std::uint8_t version() const { return static_cast<std::uint8_t>(load_u8(bytes_, 0) >> 4); }
  [[nodiscard]] std::size_t header_length() const { return std::size_t{load_u8(bytes_, 0) & 0x0FU} * 4; }
  [[nodiscard]] std::uint8_t tos() const { return load_u8(bytes_, 1); }
  [[nodiscard]] std::uint8_t dscp() const { return static_cast<std::uint8_t>(tos() >> 2); }  // RFC 2474
  [[nodiscard]] std::uint8_t ecn() const { return static_cast<std::uint8_t>(tos() & 0x03U); }  // RFC 3168
  [[nodiscard]] std::uint16_t total_length() const { return load_be16(bytes_, 2); }
  [[nodiscard]] std::uint16_t identification() const { return load_be16(bytes_, 4); }
  // RFC 791 3.1 Flags: bit 0 reserved (must be zero; accepted and reported), DF, MF.
  [[nodiscard]] bool reserved_flag() const { return (load_u8(bytes_, 6) & 0x80U) != 0; }
  [[nodiscard]] bool dont_fragment() const { return (load_u8(bytes_, 6) & 0x40U) != 0; }
  [[nodiscard]] bool more_fragments() const { return (load_u8(bytes_, 6) & 0x20U) != 0; }
  // In units of 8 octets (RFC 791 3.1 Fragment Offset).
  [[nodiscard]] std::uint16_t fragment_offset() const { return load_be16(bytes_, 6) & 0x1FFFU; }
  [[nodiscard]] bool is_fragment() const { return more_fragments() || fragment_offset() != 0; }
  [[nodiscard]] std::uint8_t ttl() const { return load_u8(bytes_, 8); }
  [[nodiscard]] std::uint8_t protocol() const { return load_u8(bytes_, 9); }
  [[nodiscard]] std::uint16_t checksum() const { return load_be16(bytes_, 10); }
  [[nodiscard]] Ipv4Address source() const { return load_ipv4(bytes_, 12); }
  [[nodiscard]] Ipv4Address destination() const { return load_ipv4(bytes_, 16); }
  [[nodiscard]] std::span<const std::byte> options() const {
    return bytes_.subspan(kMinHeaderLength, header_length() - kMinHeaderLength);
  }
  [[nodiscard]] std::span<const std::byte> payload() const { return bytes_.subspan(header_length()); }
  // Header and payload: exactly total_length() octets.
  [[nodiscard]] std::span<const std::byte> bytes() const { return bytes_; }
  [[nodiscard]] Ipv4PseudoHeader pseudo_header() const {
    return {source(), destination(), protocol(), static_cast<std::uint16_t>(payload().size())};
  }

 private:
  explicit Ipv4View(std::span<const std::byte> bytes) : bytes_(bytes) {}
  std::span<const std::byte> bytes_;
};

// The header as a value. options refers to the parsed buffer (or the caller's storage): nothing is
// copied until emit. emit writes length() octets (the header; the payload follows), with the
// checksum, and Total Length = length() + payload_length.
struct Ipv4Header {
  std::uint8_t tos = 0;
  std::uint16_t identification = 0;
  bool reserved_flag = false;
  bool dont_fragment = false;
  bool more_fragments = false;
  std::uint16_t fragment_offset = 0;  // 8-octet units, 13 bits
  std::uint8_t ttl = 64;
  std::uint8_t protocol = 0;
  Ipv4Address source;
  Ipv4Address destination;
  std::span<const std::byte> options;  // a multiple of 4 octets, at most 40
  std::size_t payload_length = 0;

  [[nodiscard]] static Result<Ipv4Header> parse(std::span<const std::byte> packet,
                                                ChecksumCheck check = ChecksumCheck::verify);
  [[nodiscard]] static Ipv4Header from(const Ipv4View& view);

  [[nodiscard]] std::size_t length() const { return Ipv4View::kMinHeaderLength + options.size(); }
  [[nodiscard]] std::size_t total_length() const { return length() + payload_length; }
  [[nodiscard]] Ipv4PseudoHeader pseudo_header() const {
    return {source, destination, protocol, static_cast<std::uint16_t>(payload_length)};
  }
  // False (nothing written) when out is shorter than length(), the options are not a multiple of 4
  // or longer than 40, the fragment offset exceeds 13 bits, or the total length exceeds 65535.
  [[nodiscard]] bool emit(std::span<std::byte> out) const;

  friend bool operator==(const Ipv4Header& a, const Ipv4Header& b);
};

}  // namespace pktd::wire
