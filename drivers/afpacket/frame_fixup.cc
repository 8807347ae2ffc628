#include "frame_fixup.h"

#include <cstring>

namespace pktd_afpacket {
namespace {

constexpr uint16_t kEthertypeIpv4 = 0x0800;
constexpr uint16_t kEthertypeVlan = 0x8100;  // IEEE 802.1Q C-tag
constexpr uint16_t kEthertypeQinQ = 0x88a8;  // IEEE 802.1ad S-tag
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr size_t kTcpChecksumAt = 16;  // RFC 793 3.1
constexpr size_t kUdpChecksumAt = 6;   // RFC 768
constexpr size_t kTcpMinHeader = 20;
constexpr size_t kUdpHeader = 8;

uint16_t load16(std::span<const std::byte> b, size_t at) {
  return static_cast<uint16_t>((std::to_integer<unsigned>(b[at]) << 8) |
                               std::to_integer<unsigned>(b[at + 1]));
}

void store16(std::span<std::byte> b, size_t at, uint16_t v) {
  b[at] = static_cast<std::byte>(v >> 8);
  b[at + 1] = static_cast<std::byte>(v & 0xff);
}

// RFC 1071: the 16-bit one's complement sum, accumulated wide and folded at the end.
uint64_t sum16(std::span<const std::byte> b, uint64_t sum) {
  size_t i = 0;
  for (; i + 1 < b.size(); i += 2) sum += load16(b, i);
  if (i < b.size()) sum += std::to_integer<uint64_t>(b[i]) << 8;  // odd length: pad with zero
  return sum;
}

uint16_t fold(uint64_t sum) {
  while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// Where the IPv4 header starts, past at most one VLAN tag; 0 when it is not IPv4.
size_t ipv4_offset(std::span<const std::byte> frame) {
  if (frame.size() < kEthHeader) return 0;
  size_t at = kMacPair;
  uint16_t type = load16(frame, at);
  if (type == kEthertypeVlan || type == kEthertypeQinQ) {
    at += kVlanTag;
    if (frame.size() < at + 2) return 0;
    type = load16(frame, at);
  }
  return type == kEthertypeIpv4 ? at + 2 : 0;
}

struct Segment {
  size_t start = 0;        // of the TCP/UDP header within the frame
  size_t length = 0;       // header and payload, from the IPv4 total length
  size_t checksum_at = 0;  // within the segment
  uint8_t protocol = 0;
  size_t ip = 0;  // IPv4 header offset, for the addresses
};

// The TCP/UDP segment of an unfragmented IPv4 packet, checked against the frame's bounds.
bool find_segment(std::span<const std::byte> frame, Segment& out) {
  size_t ip = ipv4_offset(frame);
  if (ip == 0 || frame.size() < ip + 20) return false;
  unsigned version_ihl = std::to_integer<unsigned>(frame[ip]);
  size_t header = size_t{version_ihl & 0xf} * 4;
  size_t total = load16(frame, ip + 2);
  // A fragment never carries a partial checksum (the sender had to compute it to fragment).
  bool fragment = (load16(frame, ip + 6) & 0x3fff) != 0;
  if ((version_ihl >> 4) != 4 || header < 20 || total < header || ip + total > frame.size() ||
      fragment)
    return false;
  out.protocol = std::to_integer<uint8_t>(frame[ip + 9]);
  out.ip = ip;
  out.start = ip + header;
  out.length = total - header;
  if (out.protocol == kProtoTcp && out.length >= kTcpMinHeader) {
    out.checksum_at = kTcpChecksumAt;
    return true;
  }
  if (out.protocol == kProtoUdp && out.length >= kUdpHeader) {
    out.checksum_at = kUdpChecksumAt;
    return true;
  }
  return false;
}

}  // namespace

ChecksumFix complete_checksum(std::span<std::byte> frame) {
  Segment seg;
  if (!find_segment(frame, seg)) return ChecksumFix::unsupported;
  auto segment = frame.subspan(seg.start, seg.length);
  // Computed from scratch rather than finished from the pseudo-header sum already there: the
  // result is right whatever the field held.
  store16(segment, seg.checksum_at, 0);
  uint64_t sum = sum16(frame.subspan(seg.ip + 12, 8), 0);  // source and destination address
  sum += seg.protocol;
  sum += seg.length;
  sum = sum16(segment, sum);
  auto checksum = static_cast<uint16_t>(~fold(sum));
  // RFC 768: a computed UDP checksum of zero is sent as all ones (zero means "none").
  if (checksum == 0 && seg.protocol == kProtoUdp) checksum = 0xffff;
  store16(segment, seg.checksum_at, checksum);
  return ChecksumFix::completed;
}

std::array<std::byte, kVlanTag> vlan_tag(uint16_t tpid, uint16_t tci) {
  return {static_cast<std::byte>(tpid >> 8), static_cast<std::byte>(tpid & 0xff),
          static_cast<std::byte>(tci >> 8), static_cast<std::byte>(tci & 0xff)};
}

bool for_us(std::span<const std::byte> frame, const uint8_t (&mac)[6]) {
  if (frame.size() < 6) return false;
  if ((std::to_integer<unsigned>(frame[0]) & 0x01) != 0) return true;
  return std::memcmp(frame.data(), mac, 6) == 0;
}

}  // namespace pktd_afpacket
