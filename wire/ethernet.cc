#include "wire/ethernet.h"

namespace pktd::wire {

Result<EthernetView> EthernetView::parse(std::span<const std::byte> frame) {
  if (frame.size() < kHeaderLength) return ParseError::truncated;
  std::size_t header_length = kHeaderLength;
  if (load_be16(frame, 12) == kEthertypeVlan) {
    // IEEE 802.1Q 9.3: the tag (TPID 0x8100 + TCI) sits between the source address and the type.
    if (frame.size() < kTaggedHeaderLength) return ParseError::truncated;
    if ((load_be16(frame, 14) & 0x0FFFU) > VlanTag::kMaxVid) return ParseError::bad_vlan_id;
    header_length = kTaggedHeaderLength;
  }
  if (load_be16(frame, header_length - 2) < kEthertypeMin) return ParseError::bad_ethertype;
  return EthernetView(frame, header_length);
}

std::optional<VlanTag> EthernetView::vlan() const {
  if (!tagged()) return std::nullopt;
  const std::uint16_t tci = load_be16(bytes_, 14);
  return VlanTag{static_cast<std::uint8_t>(tci >> 13), (tci & 0x1000U) != 0,
                 static_cast<std::uint16_t>(tci & 0x0FFFU)};
}

Result<EthernetHeader> EthernetHeader::parse(std::span<const std::byte> frame) {
  auto view = EthernetView::parse(frame);
  if (!view) return view.error();
  return from(*view);
}

EthernetHeader EthernetHeader::from(const EthernetView& view) {
  return {view.destination(), view.source(), view.vlan(), view.ethertype()};
}

bool EthernetHeader::emit(std::span<std::byte> out) const {
  if (out.size() < length() || ethertype < kEthertypeMin) return false;
  if (vlan && (vlan->pcp > 7 || vlan->vid > VlanTag::kMaxVid)) return false;
  store_mac(out, 0, destination);
  store_mac(out, 6, source);
  if (vlan) {
    store_be16(out, 12, kEthertypeVlan);
    const unsigned tci = (unsigned{vlan->pcp} << 13) | (vlan->dei ? 0x1000U : 0U) | vlan->vid;
    store_be16(out, 14, static_cast<std::uint16_t>(tci));
  }
  store_be16(out, length() - 2, ethertype);
  return true;
}

}  // namespace pktd::wire
