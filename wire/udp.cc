#include "wire/udp.h"

#include <algorithm>
#include <cstring>

namespace pktd::wire {

namespace {

InternetChecksum pseudo_header_sum(Ipv4Address source, Ipv4Address destination, std::uint16_t length) {
  return Ipv4PseudoHeader{source, destination, kIpProtocolUdp, length}.start_sum();
}

}  // namespace

Result<UdpView> UdpView::parse(std::span<const std::byte> datagram, Ipv4Address source, Ipv4Address destination,
                               ChecksumCheck check) {
  if (datagram.size() < kHeaderLength) return ParseError::truncated;
  const std::uint16_t length = load_be16(datagram, 4);
  if (length < kHeaderLength) return ParseError::bad_length;
  if (length > datagram.size()) return ParseError::truncated;
  const auto bytes = datagram.first(length);
  if (check == ChecksumCheck::verify && load_be16(bytes, 6) != 0) {  // RFC 768: zero means none
    InternetChecksum sum = pseudo_header_sum(source, destination, length);
    sum.add(bytes);
    if (!sum.verifies()) return ParseError::bad_checksum;
  }
  return UdpView(bytes);
}

Result<UdpDatagram> UdpDatagram::parse(std::span<const std::byte> datagram, Ipv4Address source,
                                       Ipv4Address destination, ChecksumCheck check) {
  auto view = UdpView::parse(datagram, source, destination, check);
  if (!view) return view.error();
  return from(*view);
}

UdpDatagram UdpDatagram::from(const UdpView& view) {
  return {view.source_port(), view.destination_port(), view.has_checksum(), view.payload()};
}

bool UdpDatagram::emit(std::span<std::byte> out, Ipv4Address source, Ipv4Address destination) const {
  if (out.size() < length() || length() > 0xFFFF) return false;
  const auto udp_length = static_cast<std::uint16_t>(length());
  if (!payload.empty()) std::memmove(out.subspan(UdpView::kHeaderLength).data(), payload.data(), payload.size());
  store_be16(out, 0, source_port);
  store_be16(out, 2, destination_port);
  store_be16(out, 4, udp_length);
  store_be16(out, 6, 0);
  if (with_checksum) {
    InternetChecksum sum = pseudo_header_sum(source, destination, udp_length);
    sum.add(out.first(udp_length));
    const std::uint16_t checksum = sum.finish();
    store_be16(out, 6, checksum == 0 ? std::uint16_t{0xFFFF} : checksum);  // RFC 768: zero is sent as ones
  }
  return true;
}

bool operator==(const UdpDatagram& a, const UdpDatagram& b) {
  return a.source_port == b.source_port && a.destination_port == b.destination_port &&
         a.with_checksum == b.with_checksum && std::ranges::equal(a.payload, b.payload);
}

}  // namespace pktd::wire
