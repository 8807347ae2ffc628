// Ethernet II in and out (IEEE 802.3 clause 3), and lo0's bare IPv4 frames.
#include <cerrno>

#include "inet/stack_internal.h"
#include "wire/ethernet.h"

namespace pktd::inet {

namespace {

MacAddress mac_of(const net::Ifnet& ifp) { return MacAddress{ifp.mac()}; }

void count_parse_error(EtherCounters& c, wire::ParseError e) {
  switch (e) {
    case wire::ParseError::bad_ethertype: ++c.llc_frames; break;
    case wire::ParseError::bad_vlan_id: ++c.bad_vlan_id; break;
    default: ++c.truncated; break;
  }
}

}  // namespace

void Stack::Private::frame_input(Stack& s, net::Ifnet& ifp, buf::MbufPtr m) {
  ++s.counters_.ether.received;
  if ((ifp.flags() & PKTD_IFF_LOOPBACK) != 0) {
    // lo0 carries bare IPv4 packets (what ip_send_packet put on it). Not tapped here: capture
    // saw it going out, and BSD and Linux show a looped-back packet once.
    ip_input(s, ifp, std::move(m), false);
    return;
  }
  tap(s, ifp, *m, false);
  size_t want = std::min<size_t>(m->pkthdr.len, wire::EthernetView::kTaggedHeaderLength);
  m = buf::pullup(std::move(m), want);
  if (!m) {
    ++s.counters_.ether.no_buffers;
    return;
  }
  auto eth = wire::EthernetView::parse(m->bytes().first(want));
  if (!eth) {
    count_parse_error(s.counters_.ether, eth.error());
    return;
  }
  MacAddress dst = eth->destination();
  bool link_broadcast = dst.is_multicast();  // broadcast is a group address too
  if (!link_broadcast && dst != mac_of(ifp)) {
    ++s.counters_.ether.not_for_us;  // seen in promiscuous mode only
    return;
  }
  if (eth->source() == mac_of(ifp)) {
    ++s.counters_.ether.from_own_address;  // our own frame looped back by a switch or bridge
    return;
  }
  if (eth->tagged()) {
    ++s.counters_.ether.vlan_tagged;
    ++s.counters_.ether.vlan_frames_dropped;  // no VLAN interfaces yet
    return;
  }
  if (link_broadcast) m->pkthdr.flags |= buf::kPktLinkGroup;
  uint16_t type = eth->ethertype();
  buf::adjust(*m, static_cast<long>(eth->header_length()));
  switch (type) {
    case wire::kEthertypeIpv4:
      ip_input(s, ifp, std::move(m), link_broadcast);
      return;
    case wire::kEthertypeArp:
      arp_input(s, ifp, std::move(m));
      return;
    default:
      ++s.counters_.ether.unknown_ethertype;
      return;
  }
}

int Stack::Private::ether_output(Stack& s, net::Ifnet& ifp, buf::MbufPtr m, const MacAddress& dst,
                                 uint16_t ethertype) {
  m = buf::prepend(std::move(m), wire::EthernetView::kHeaderLength);
  if (!m) {
    ++s.counters_.ether.no_buffers;
    return ENOBUFS;
  }
  wire::EthernetHeader h{dst, mac_of(ifp), std::nullopt, ethertype};
  (void)h.emit(m->bytes());
  return interface_output(s, ifp, std::move(m));
}

int Stack::Private::interface_output(Stack& s, net::Ifnet& ifp, buf::MbufPtr frame) {
  tap(s, ifp, *frame, true);
  int err = ifp.output(std::move(frame));
  if (err == 0) ++s.counters_.ether.sent;
  else if (err == ENOBUFS) ++s.counters_.ip.link_queue_full;
  else if (err == ENETDOWN) ++s.counters_.ip.interface_down;
  return err;
}

}  // namespace pktd::inet
