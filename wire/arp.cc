#include "wire/arp.h"

#include "wire/ethernet.h"

namespace pktd::wire {

namespace {
bool known_operation(std::uint16_t op) {
  return op == static_cast<std::uint16_t>(ArpOperation::request) ||
         op == static_cast<std::uint16_t>(ArpOperation::reply);
}
}  // namespace

Result<ArpView> ArpView::parse(std::span<const std::byte> packet) {
  if (packet.size() < kFixedLength) return ParseError::truncated;
  // RFC 826 "Packet Reception": "Do I have the hardware type in ar$hrd?", then "Do I speak the
  // protocol in ar$pro?"; the lengths (optional checks there) must be 6 and 4 for Ethernet/IPv4.
  if (load_be16(packet, 0) != kArpHardwareEthernet) return ParseError::unsupported_hardware;
  if (load_be16(packet, 2) != kEthertypeIpv4) return ParseError::unsupported_protocol;
  if (load_u8(packet, 4) != 6 || load_u8(packet, 5) != 4) return ParseError::bad_address_length;
  if (packet.size() < kLength) return ParseError::truncated;
  if (!known_operation(load_be16(packet, 6))) return ParseError::bad_operation;
  return ArpView(packet.first(kLength));
}

Result<ArpPacket> ArpPacket::parse(std::span<const std::byte> packet) {
  auto view = ArpView::parse(packet);
  if (!view) return view.error();
  return from(*view);
}

ArpPacket ArpPacket::from(const ArpView& view) {
  return {view.operation(), view.sender_mac(), view.sender_ip(), view.target_mac(), view.target_ip()};
}

bool ArpPacket::emit(std::span<std::byte> out) const {
  const auto op = static_cast<std::uint16_t>(operation);
  if (out.size() < length() || !known_operation(op)) return false;
  store_be16(out, 0, kArpHardwareEthernet);
  store_be16(out, 2, kEthertypeIpv4);
  store_u8(out, 4, 6);
  store_u8(out, 5, 4);
  store_be16(out, 6, op);
  store_mac(out, 8, sender_mac);
  store_ipv4(out, 14, sender_ip);
  store_mac(out, 18, target_mac);
  store_ipv4(out, 24, target_ip);
  return true;
}

}  // namespace pktd::wire
