// Ethernet II frames (IEEE 802.3 clause 3, "DIX" type field) with an optional IEEE 802.1Q tag.
//
//   0      6      12           14 (untagged)
//   | dst  | src  | ethertype  | payload ...
//   | dst  | src  | 0x8100 | TCI | ethertype | payload ...      (802.1Q, 18-octet header)
//
// The FCS is not part of the buffer (NICs and TAP strip it). Short frames are accepted: padding to
// the 60-octet minimum is the sender's job, and a TAP may deliver less.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "wire/address.h"
#include "wire/result.h"

namespace pktd::wire {

inline constexpr std::uint16_t kEthertypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEthertypeArp = 0x0806;
inline constexpr std::uint16_t kEthertypeVlan = 0x8100;  // IEEE 802.1Q C-VLAN tag protocol identifier
inline constexpr std::uint16_t kEthertypeIpv6 = 0x86DD;
// IEEE 802.3 3.2.6: type/length values at or above 1536 are types; below, 802.3 lengths.
inline constexpr std::uint16_t kEthertypeMin = 0x0600;

// IEEE 802.1Q 9.6 Tag Control Information: PCP (3 bits), DEI (1 bit), VID (12 bits).
struct VlanTag {
  std::uint8_t pcp = 0;  // priority code point, 0..7
  bool dei = false;      // drop eligible indicator
  std::uint16_t vid = 0;  // 0 = priority tag only; 1..4094 VLANs; 4095 reserved

  static constexpr std::uint16_t kMaxVid = 0xFFE;
  friend constexpr bool operator==(const VlanTag&, const VlanTag&) = default;
};

class EthernetView {
 public:
  static constexpr std::size_t kHeaderLength = 14;
  static constexpr std::size_t kTaggedHeaderLength = 18;

  // Errors: truncated, bad_ethertype (a length field: 802.3/LLC, not Ethernet II), bad_vlan_id.
  [[nodiscard]] static Result<EthernetView> parse(std::span<const std::byte> frame);

  [[nodiscard]] MacAddress destination() const { return load_mac(bytes_, 0); }
  [[nodiscard]] MacAddress source() const { return load_mac(bytes_, 6); }
  [[nodiscard]] bool tagged() const { return header_length_ == kTaggedHeaderLength; }
  [[nodiscard]] std::optional<VlanTag> vlan() const;
  // The payload's type: the inner ethertype when tagged (a double-tagged frame reports 0x8100 here).
  [[nodiscard]] std::uint16_t ethertype() const { return load_be16(bytes_, header_length_ - 2); }
  [[nodiscard]] std::size_t header_length() const { return header_length_; }
  [[nodiscard]] std::span<const std::byte> payload() const { return bytes_.subspan(header_length_); }
  [[nodiscard]] std::span<const std::byte> bytes() const { return bytes_; }

 private:
  EthernetView(std::span<const std::byte> bytes, std::size_t header_length)
      : bytes_(bytes), header_length_(header_length) {}

  std::span<const std::byte> bytes_;
  std::size_t header_length_;
};

// The header as a value. emit writes length() octets (the header only; the payload follows it).
struct EthernetHeader {
  MacAddress destination;
  MacAddress source;
  std::optional<VlanTag> vlan;
  std::uint16_t ethertype = 0;

  [[nodiscard]] static Result<EthernetHeader> parse(std::span<const std::byte> frame);
  [[nodiscard]] static EthernetHeader from(const EthernetView& view);

  [[nodiscard]] std::size_t length() const {
    return vlan ? EthernetView::kTaggedHeaderLength : EthernetView::kHeaderLength;
  }
  // False (and nothing written) when out is shorter than length() or a field does not fit:
  // pcp > 7, vid > 4094, ethertype below 0x0600.
  [[nodiscard]] bool emit(std::span<std::byte> out) const;

  friend bool operator==(const EthernetHeader&, const EthernetHeader&) = default;
};

}  // namespace pktd::wire
