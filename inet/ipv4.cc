// IPv4 input and output (RFC 791, RFC 1122 3.2.1 and 3.3): validation, local delivery, source
// selection, fragmentation and reassembly. Forwarding is off (RFC 1122 host behaviour).
#include <cerrno>

#include "inet/stack_internal.h"

namespace pktd::inet {

namespace {

void count_parse_error(IpCounters& c, wire::ParseError e) {
  switch (e) {
    case wire::ParseError::bad_version: ++c.bad_version; break;
    case wire::ParseError::bad_header_length: ++c.bad_header_length; break;
    case wire::ParseError::bad_total_length: ++c.bad_total_length; break;
    case wire::ParseError::bad_checksum: ++c.bad_checksum; break;
    case wire::ParseError::bad_fragment: ++c.bad_fragment; break;
    default: ++c.truncated; break;
  }
}

bool is_loopback_if(const net::Ifnet& ifp) { return (ifp.flags() & PKTD_IFF_LOOPBACK) != 0; }

// RFC 791 3.1 option format: End of Option List and No Operation are one octet; every other
// option has a length octet covering itself, at least 2, within the header. Returns the offset
// from the start of the IPv4 header of the first octet in error, or 0 when the list is sound.
size_t malformed_option(std::span<const std::byte> options) {
  constexpr uint8_t kEndOfList = 0, kNoOperation = 1;
  size_t i = 0;
  while (i < options.size()) {
    uint8_t type = wire::load_u8(options, i);
    if (type == kEndOfList) return 0;
    if (type == kNoOperation) {
      ++i;
      continue;
    }
    size_t length_at = i + 1;
    if (length_at >= options.size()) return wire::Ipv4View::kMinHeaderLength + length_at;
    size_t length = wire::load_u8(options, length_at);
    if (length < 2 || i + length > options.size()) return wire::Ipv4View::kMinHeaderLength + length_at;
    i += length;
  }
  return 0;
}

}  // namespace

// RFC 1122 3.2.1.3: a source that is not a unique host is discarded silently.
bool Stack::Private::bad_source(Stack& s, const net::Ifnet& ifp, Ipv4Address src) {
  if (is_multicast(src) || is_limited_broadcast(src) || is_reserved_class_e(src)) return true;
  if (is_loopback_net(src) && !is_loopback_if(ifp)) return true;  // a martian from the wire
  // Our own address coming in from a network is spoofed or looped (Linux: martian source).
  if (!is_loopback_if(ifp) && s.is_local_address(src)) return true;
  // "This network" (0/8) may only be a source while a host learns its address, to the limited
  // broadcast (RFC 1122 3.2.1.3 (a), (b)); pktd has no DHCP server, so it is a bad source here.
  if ((src.value >> 24) == 0) return true;
  // A broadcast address of any of our networks: a reply would be a broadcast on that network.
  return is_our_broadcast(s, src);
}

void Stack::Private::ip_input(Stack& s, net::Ifnet& ifp, buf::MbufPtr m, bool link_broadcast) {
  IpCounters& c = s.counters_.ip;
  ++c.received;
  std::vector<std::byte> scratch;
  auto ip = wire::Ipv4View::parse(contiguous(*m, scratch));
  if (!ip) {
    count_parse_error(c, ip.error());
    return;
  }
  if (m->pkthdr.len > ip->total_length())  // Ethernet padding (RFC 894: frames are at least 60 octets)
    buf::adjust(*m, -static_cast<long>(m->pkthdr.len - ip->total_length()));
  if (bad_source(s, ifp, ip->source())) {
    ++c.bad_source;
    return;
  }
  Ipv4Address dst = ip->destination();
  if (is_loopback_net(dst) && !is_loopback_if(ifp)) {
    ++c.not_for_us;  // RFC 1122 3.2.1.3 (g): 127/8 from a network (Linux: martian destination)
    return;
  }
  bool to_broadcast = is_broadcast_for(s, ifp.index(), dst);
  bool local = to_broadcast || s.is_local_address(dst);  // 127/8 is local through lo0's /8
  if (!local) {
    ++c.not_for_us;  // a host does not forward (RFC 1122 3.3.1)
    return;
  }
  if (!ip->options().empty()) {
    ++c.with_options;  // not interpreted: RFC 1122 3.2.1.8
    // But a list that cannot be walked is a header error: RFC 1122 3.2.2.5 says tell the
    // sender with a Parameter Problem pointing at the octet (Linux does the same) --
    // about datagrams for us only: one we would not take is dropped silently.
    if (size_t pointer = malformed_option(ip->options()); pointer != 0) {
      ++c.bad_options;
      icmp_error(s, *m, kIcmpParameterProblem, 0, static_cast<uint32_t>(pointer) << 24, link_broadcast);
      return;
    }
  }
  if (ip->is_fragment()) {
    ++c.fragments_received;
    m = s.reassembly_.input(std::move(m), s.env_.clock().now());
    arm_slow_timer(s);
    if (!m) return;
    ++c.reassembled;
    link_broadcast = (m->pkthdr.flags & buf::kPktLinkGroup) != 0;  // any fragment's
    ip = wire::Ipv4View::parse(contiguous(*m, scratch));
    if (!ip) {
      count_parse_error(c, ip.error());
      return;
    }
  }
  switch (ip->protocol()) {
    case wire::kIpProtocolIcmp:
      ++c.delivered;
      icmp_input(s, ifp, *ip, to_broadcast);
      return;
    case wire::kIpProtocolUdp:
      ++c.delivered;
      udp_input(s, ifp, *ip, *m, to_broadcast, link_broadcast);
      return;
    case wire::kIpProtocolTcp:
      ++c.delivered;
      tcp_input(s, *ip, to_broadcast || link_broadcast);
      return;
    default:
      ++c.unknown_protocol;
      icmp_error(s, *m, kIcmpDestUnreachable, kUnreachProtocol, 0, link_broadcast || to_broadcast);
      return;
  }
}

int Stack::ip_output(buf::MbufPtr payload, uint8_t protocol, Ipv4Address destination,
                     const SendOptions& options) {
  IpCounters& c = counters_.ip;
  Route route;
  if (is_limited_broadcast(destination)) {
    // RFC 919: 255.255.255.255 leaves by the interface of the source address.
    const Route* r = options.source.value != 0 ? routes_.lookup(options.source) : nullptr;
    if (r == nullptr) {
      ++c.no_route;
      return ENETUNREACH;
    }
    route = *r;
    if ((route.flags & kRouteLocal) != 0) {
      for (const auto& [index, list] : addresses_)
        for (const IfAddress& a : list)
          if (a.address == options.source) route.ifindex = index;
    }
    route.gateway.reset();
  } else if (const Route* r = routes_.lookup(destination)) {
    route = *r;
    ++r->use;
  } else {
    ++c.no_route;
    return ENETUNREACH;
  }
  Ipv4Address source = options.source;
  if (source.value != 0 && !is_local_address(source)) {
    ++c.no_source_address;
    return EADDRNOTAVAIL;
  }
  if (source.value == 0) source = Private::source_for(*this, route, destination);
  if (source.value == 0) {
    ++c.no_source_address;  // the interface has no address yet
    return EADDRNOTAVAIL;
  }
  size_t payload_length = payload->pkthdr.len;
  buf::MbufPtr packet = buf::prepend(std::move(payload), wire::Ipv4View::kMinHeaderLength);
  if (!packet) {
    ++c.no_buffers;
    return ENOBUFS;
  }
  wire::Ipv4Header h;
  h.tos = options.tos;
  h.identification = next_ip_id_++;
  h.dont_fragment = options.dont_fragment;
  h.ttl = options.ttl != 0 ? options.ttl : config_.default_ttl;
  h.protocol = protocol;
  h.source = source;
  h.destination = destination;
  h.payload_length = payload_length;
  if (!h.emit(packet->bytes())) {
    ++c.too_long;  // over 65535 octets
    return EMSGSIZE;
  }
  ++c.sent;
  return Private::ip_send_packet(*this, std::move(packet), route, destination);
}

int Stack::Private::ip_send_packet(Stack& s, buf::MbufPtr packet, const Route& route,
                                   Ipv4Address destination) {
  net::Ifnet* ifp = interface(s, route.ifindex);
  if (ifp == nullptr) {
    ++s.counters_.ip.no_route;
    return ENETUNREACH;
  }
  Ipv4Address next_hop = route.gateway.value_or(destination);
  if (packet->pkthdr.len <= ifp->mtu()) return link_output(s, *ifp, std::move(packet), next_hop);
  std::vector<buf::MbufPtr> fragments;
  int err = fragment(std::move(packet), ifp->mtu(), &fragments);
  if (err == EMSGSIZE) ++s.counters_.ip.cant_fragment;
  if (err == ENOBUFS) ++s.counters_.ip.no_buffers;
  if (err != 0) return err;
  ++s.counters_.ip.fragmented;
  s.counters_.ip.fragments_created += fragments.size();
  int first_error = 0;
  for (buf::MbufPtr& f : fragments) {
    int e = link_output(s, *ifp, std::move(f), next_hop);
    if (first_error == 0) first_error = e;
  }
  return first_error;
}

int Stack::Private::link_output(Stack& s, net::Ifnet& ifp, buf::MbufPtr packet, Ipv4Address next_hop) {
  if (is_loopback_if(ifp)) {
    ++s.counters_.ip.sent_to_self;
    return interface_output(s, ifp, std::move(packet));
  }
  if (is_broadcast_for(s, ifp.index(), next_hop))
    return ether_output(s, ifp, std::move(packet), MacAddress::broadcast(), wire::kEthertypeIpv4);
  return arp_resolve_and_send(s, ifp, next_hop, std::move(packet));
}

}  // namespace pktd::inet
