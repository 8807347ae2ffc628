// What the receive path does to a frame before pktd sees it, as plain functions on bytes (no
// pktd, no Linux): finish a checksum Linux left for hardware to fill in, and rebuild an 802.1Q
// tag Linux took out of the frame.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace pktd_afpacket {

inline constexpr size_t kEthHeader = 14;
inline constexpr size_t kMacPair = 12;  // destination and source: a VLAN tag goes after them
inline constexpr size_t kVlanTag = 4;

enum class ChecksumFix {
  completed,    // an IPv4 TCP or UDP checksum, now whole
  unsupported,  // anything else (IPv6, another protocol, a malformed header): left as it was
};

// A frame marked TP_STATUS_CSUMNOTREADY (packet_mmap.rst: "its checksum will be done in
// hardware"): a veth or a local sender hands it over with only the pseudo-header sum in the
// TCP/UDP checksum field. Computes the whole checksum (RFC 1071 over the RFC 768/793
// pseudo-header and the segment) and writes it in place. One outer 802.1Q/802.1ad tag is allowed.
ChecksumFix complete_checksum(std::span<std::byte> frame);

// The four bytes of an 802.1Q tag (IEEE 802.1Q 9.6): TPID, then PCP/DEI/VID, big-endian.
std::array<std::byte, kVlanTag> vlan_tag(uint16_t tpid, uint16_t tci);

// Whether a frame to this destination gets past a NIC's address filter: multicast and broadcast
// (the I/G bit, IEEE 802 clause 8.2), or unicast to our own address.
bool for_us(std::span<const std::byte> frame, const uint8_t (&mac)[6]);

}  // namespace pktd_afpacket
