#include "wire/ipv4.h"

#include <algorithm>
#include <cstring>

namespace pktd::wire {

namespace {

constexpr std::size_t kFixed = Ipv4View::kMinHeaderLength;

// RFC 791 3.2 Fragmentation: every fragment but the last carries a multiple of 8 octets, and no
// fragment reaches past the largest datagram (65535 octets; the "ping of death" overflow).
bool fragment_fields_valid(const Ipv4View& ip) {
  const std::size_t data = ip.payload().size();
  if (ip.more_fragments() && data % 8 != 0) return false;
  const std::size_t end = std::size_t{ip.fragment_offset()} * 8 + data;
  return end + ip.header_length() <= Ipv4View::kMaxTotalLength;
}

}  // namespace

Result<Ipv4View> Ipv4View::parse(std::span<const std::byte> packet, ChecksumCheck check) {
  if (packet.size() < kMinHeaderLength) return ParseError::truncated;
  if ((load_u8(packet, 0) >> 4) != 4) return ParseError::bad_version;
  const std::size_t header_length = std::size_t{load_u8(packet, 0) & 0x0FU} * 4;
  if (header_length < kMinHeaderLength) return ParseError::bad_header_length;
  if (packet.size() < header_length) return ParseError::truncated;
  const std::size_t total_length = load_be16(packet, 2);
  if (total_length < header_length) return ParseError::bad_total_length;
  if (total_length > packet.size()) return ParseError::truncated;
  // RFC 791 3.1 Header Checksum: the one's complement sum over the header, checksum included.
  if (check == ChecksumCheck::verify) {
    InternetChecksum sum;
    sum.add(packet.first(header_length));
    if (!sum.verifies()) return ParseError::bad_checksum;
  }
  Ipv4View view(packet.first(total_length));
  if (!fragment_fields_valid(view)) return ParseError::bad_fragment;
  return view;
}

Result<Ipv4Header> Ipv4Header::parse(std::span<const std::byte> packet, ChecksumCheck check) {
  auto view = Ipv4View::parse(packet, check);
  if (!view) return view.error();
  return from(*view);
}

Ipv4Header Ipv4Header::from(const Ipv4View& view) {
  Ipv4Header h;
  h.tos = view.tos();
  h.identification = view.identification();
  h.reserved_flag = view.reserved_flag();
  h.dont_fragment = view.dont_fragment();
  h.more_fragments = view.more_fragments();
  h.fragment_offset = view.fragment_offset();
  h.ttl = view.ttl();
  h.protocol = view.protocol();
  h.source = view.source();
  h.destination = view.destination();
  h.options = view.options();
  h.payload_length = view.payload().size();
  return h;
}

bool Ipv4Header::emit(std::span<std::byte> out) const {
  const std::size_t header_length = length();
  if (out.size() < header_length || options.size() % 4 != 0 ||
      header_length > Ipv4View::kMaxHeaderLength || fragment_offset > 0x1FFF ||
      total_length() > Ipv4View::kMaxTotalLength) {
    return false;
  }
  store_u8(out, 0, static_cast<std::uint8_t>(0x40U | (header_length / 4)));
  store_u8(out, 1, tos);
  store_be16(out, 2, static_cast<std::uint16_t>(total_length()));
  store_be16(out, 4, identification);
  const unsigned flags = (reserved_flag ? 0x8000U : 0U) | (dont_fragment ? 0x4000U : 0U) |
                         (more_fragments ? 0x2000U : 0U);
  store_be16(out, 6, static_cast<std::uint16_t>(flags | fragment_offset));
  store_u8(out, 8, ttl);
  store_u8(out, 9, protocol);
  store_be16(out, 10, 0);
  store_ipv4(out, 12, source);
  store_ipv4(out, 16, destination);
  // memmove: options may already sit in out (a header rewritten in place).
  if (!options.empty()) std::memmove(out.subspan(kFixed).data(), options.data(), options.size());
  store_be16(out, 10, internet_checksum(out.first(header_length)));
  return true;
}

bool operator==(const Ipv4Header& a, const Ipv4Header& b) {
  return a.tos == b.tos && a.identification == b.identification && a.reserved_flag == b.reserved_flag &&
         a.dont_fragment == b.dont_fragment && a.more_fragments == b.more_fragments &&
         a.fragment_offset == b.fragment_offset && a.ttl == b.ttl && a.protocol == b.protocol &&
         a.source == b.source && a.destination == b.destination &&
         std::ranges::equal(a.options, b.options) && a.payload_length == b.payload_length;
}

}  // namespace pktd::wire
