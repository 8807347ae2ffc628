// UDP (RFC 768) input and output over the UDP table.
#include <cerrno>

#include "inet/stack_internal.h"
#include "wire/udp.h"

namespace pktd::inet {

void Stack::Private::udp_input(Stack& s, net::Ifnet&, const wire::Ipv4View& ip, const buf::Mbuf& packet,
                               bool to_broadcast, bool link_broadcast) {
  UdpCounters& c = s.counters_.udp;
  ++c.received;
  auto udp = wire::UdpView::parse(ip);  // a zero checksum means "none" (RFC 768)
  if (!udp) {
    switch (udp.error()) {
      case wire::ParseError::bad_checksum: ++c.bad_checksum; break;
      case wire::ParseError::bad_length: ++c.bad_length; break;
      default: ++c.truncated; break;
    }
    return;
  }
  UdpEndpoint to{ip.destination(), udp->destination_port()};
  UdpEndpoint from{ip.source(), udp->source_port()};
  auto data = udp->payload();
  if (to_broadcast || link_broadcast) {
    auto all = s.udp_table_.lookup_all(to, from);
    if (all.empty()) ++c.no_port_broadcast;  // RFC 1122 4.1.3.1: no port unreachable for broadcasts
    for (const auto& sock : all) deliver_udp(c, *sock, from, to, data);
    return;
  }
  std::shared_ptr<UdpSocket> sock = s.udp_table_.lookup(to, from);
  if (!sock) {
    ++c.no_port;
    icmp_error(s, packet, kIcmpDestUnreachable, kUnreachPort, 0, false);
    return;
  }
  deliver_udp(c, *sock, from, to, data);
}

void Stack::Private::deliver_udp(UdpCounters& c, UdpSocket& sock, UdpEndpoint from, UdpEndpoint to,
                                 std::span<const std::byte> data) {
  bool taken = sock.sink ? sock.sink(from, data)
                         : sock.deliver({from, to, std::string(reinterpret_cast<const char*>(data.data()),
                                                               data.size())});
  if (!taken) {
    ++c.queue_full;
    return;
  }
  ++c.delivered;
}

void Stack::Private::udp_error(Stack& s, std::span<const std::byte> quoted, int error) {
  // The quoted datagram went from one of our sockets (its source) to the peer (its destination).
  if (quoted.size() < wire::Ipv4View::kMinHeaderLength) return;
  size_t ihl = size_t{wire::load_u8(quoted, 0) & 0x0FU} * 4;
  if (ihl < 20 || quoted.size() < ihl + 8 || wire::load_u8(quoted, 9) != wire::kIpProtocolUdp) return;
  UdpEndpoint local{{wire::load_be32(quoted, 12)}, wire::load_be16(quoted, ihl)};
  UdpEndpoint remote{{wire::load_be32(quoted, 16)}, wire::load_be16(quoted, ihl + 2)};
  auto sock = s.udp_table_.lookup_connected(local, remote);
  if (!sock || !sock->on_error) return;
  ++s.counters_.udp.icmp_errors_reported;
  sock->on_error(error);
}

int Stack::source_for(Ipv4Address destination, Ipv4Address* source) {
  if (is_limited_broadcast(destination)) {
    *source = {};
    return 0;
  }
  const Route* r = routes_.lookup(destination);
  if (r == nullptr) return ENETUNREACH;
  *source = Private::source_for(*this, *r, destination);
  return source->value == 0 ? EADDRNOTAVAIL : 0;
}

int Stack::udp_output(UdpEndpoint from, UdpEndpoint to, std::span<const std::byte> data,
                      SendOptions o) {
  UdpCounters& c = counters_.udp;
  if (data.size() > 65535 - 8 - 20) return EMSGSIZE;
  // The checksum covers the source address: pick it now if the caller left it to us.
  if (from.address.value == 0 && !is_limited_broadcast(to.address)) {
    const Route* r = routes_.lookup(to.address);
    if (r == nullptr) {
      ++counters_.ip.no_route;
      return ENETUNREACH;
    }
    from.address = Private::source_for(*this, *r, to.address);
    if (from.address.value == 0) {
      ++counters_.ip.no_source_address;
      return EADDRNOTAVAIL;
    }
  }
  wire::UdpDatagram d{from.port, to.port, true, data};
  std::vector<std::byte> bytes(8 + data.size());
  if (!d.emit(bytes, from.address, to.address)) return EINVAL;
  buf::MbufPtr m = buf::packet_from(bytes, buf::Wait::nowait, 64);
  if (!m) {
    ++c.no_buffers;
    return ENOBUFS;
  }
  o.source = from.address;
  int err = ip_output(std::move(m), wire::kIpProtocolUdp, to.address, o);
  if (err == 0) ++c.sent;
  return err;
}

}  // namespace pktd::inet
