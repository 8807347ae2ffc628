// UDP (RFC 768).
//
//   0             2                  4        6          8
//   | Source Port | Destination Port | Length | Checksum | data ...
//
// Length covers header and data; octets after it (padding) are not data. The checksum covers the
// IPv4 pseudo-header (source, destination, zero, protocol 17, UDP length), the header and the data.
// RFC 768: "An all zero transmitted checksum value means that the transmitter generated no
// checksum": such a datagram is accepted without verification. A computed checksum of zero is
// transmitted as all ones.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/address.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"
#include "wire/result.h"

namespace pktd::wire {

class UdpView {
 public:
  static constexpr std::size_t kHeaderLength = 8;

  // Errors: truncated (fewer than 8 octets, or Length beyond the buffer), bad_length (Length < 8),
  // bad_checksum. source/destination are the IPv4 addresses for the pseudo-header.
  [[nodiscard]] static Result<UdpView> parse(std::span<const std::byte> datagram, Ipv4Address source,
                                             Ipv4Address destination, ChecksumCheck check = ChecksumCheck::verify);
  // The IPv4 packet's payload and addresses.
  [[nodiscard]] static Result<UdpView> parse(const Ipv4View& ip, ChecksumCheck check = ChecksumCheck::verify) {
    return parse(ip.payload(), ip.source(), ip.destination(), check);
  }

  [[nodiscard]] std::uint16_t source_port() const { return load_be16(bytes_, 0); }
  [[nodiscard]] std::uint16_t destination_port() const { return load_be16(bytes_, 2); }
  [[nodiscard]] std::uint16_t length() const { return load_be16(bytes_, 4); }
  [[nodiscard]] std::uint16_t checksum() const { return load_be16(bytes_, 6); }
  [[nodiscard]] bool has_checksum() const { return checksum() != 0; }
  [[nodiscard]] std::span<const std::byte> payload() const { return bytes_.subspan(kHeaderLength); }
  [[nodiscard]] std::span<const std::byte> bytes() const { return bytes_; }  // exactly length() octets

 private:
  explicit UdpView(std::span<const std::byte> bytes) : bytes_(bytes) {}
  std::span<const std::byte> bytes_;
};

// The whole datagram as a value: payload refers to the caller's bytes; emit copies it after the
// header (memmove: it may already be in place) and computes the checksum unless with_checksum is
// false (RFC 1122 4.1.3.4: checksumming MUST be the default).
struct UdpDatagram {
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  bool with_checksum = true;
  std::span<const std::byte> payload;

  [[nodiscard]] static Result<UdpDatagram> parse(std::span<const std::byte> datagram, Ipv4Address source,
                                                 Ipv4Address destination,
                                                 ChecksumCheck check = ChecksumCheck::verify);
  [[nodiscard]] static UdpDatagram from(const UdpView& view);

  [[nodiscard]] std::size_t length() const { return UdpView::kHeaderLength + payload.size(); }
  // False (nothing written) when out is shorter than length() or length() exceeds 65535.
  [[nodiscard]] bool emit(std::span<std::byte> out, Ipv4Address source, Ipv4Address destination) const;

  friend bool operator==(const UdpDatagram& a, const UdpDatagram& b);
};

}  // namespace pktd::wire
