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
  std::shared_ptr<UdpSocket> sock = s.udp_table_.lookup(to, from);
  if (!sock) {
    if (to_broadcast || link_broadcast) {
      ++c.no_port_broadcast;  // RFC 1122 4.1.3.1: no port unreachable for broadcasts
      return;
    }
    ++c.no_port;
    icmp_error(s, packet, kIcmpDestUnreachable, kUnreachPort, 0, false);
    return;
  }
  auto data = udp->payload();
  ReceivedDatagram d{from, to, std::string(reinterpret_cast<const char*>(data.data()), data.size())};
  if (!sock->deliver(std::move(d))) {
    ++c.queue_full;
    return;
  }
  ++c.delivered;
}

int Stack::udp_output(UdpEndpoint from, UdpEndpoint to, std::span<const std::byte> data) {
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
  SendOptions o;
  o.source = from.address;
  int err = ip_output(std::move(m), wire::kIpProtocolUdp, to.address, o);
  if (err == 0) ++c.sent;
  return err;
}

}  // namespace pktd::inet
