// TCP's place in the stack: segments in from IPv4, out through ip_output, ICMP errors, and the
// one callout that runs the TCP layer's timers. The protocol itself is transport/tcp's.
#include <cerrno>

#include "inet/stack_internal.h"

namespace pktd::inet {

namespace {
// The segment written straight into a packet when it fits one mbuf (a full-sized one does, in a
// cluster), else through a copy. nullptr: no buffers (*error ENOBUFS) or no valid segment (EINVAL).
buf::MbufPtr segment_packet(const wire::TcpSegment& segment, Ipv4Address src, Ipv4Address dst,
                            std::vector<std::byte>& scratch, int* error) {
  const size_t len = segment.length();
  *error = ENOBUFS;
  buf::MbufPtr m = buf::get_packet(buf::Wait::nowait, len, buf::kDefaultHeadroom);
  if (!m) return nullptr;
  if (m->next == nullptr && m->tailroom() >= len) {
    *error = EINVAL;
    if (!segment.emit(std::span(m->data, len), src, dst)) return nullptr;
    m->len = len;
    m->pkthdr.len = len;
    return m;
  }
  scratch.resize(len);
  *error = EINVAL;
  if (!segment.emit(scratch, src, dst)) return nullptr;
  *error = ENOBUFS;
  if (!buf::append(*m, scratch)) return nullptr;
  return m;
}
}  // namespace

int Stack::TcpGlue::transmit(Ipv4Address src, Ipv4Address dst, const wire::TcpSegment& segment,
                             uint8_t ttl, uint8_t tos) {
  int error = 0;
  buf::MbufPtr m = segment_packet(segment, src, dst, bytes_, &error);
  if (!m) return error;
  // RFC 1191: TCP sets DF and learns the path's MTU from fragmentation-needed errors.
  SendOptions o;
  o.source = src;
  o.dont_fragment = true;
  o.ttl = ttl;
  o.tos = tos;
  return s_.ip_output(std::move(m), wire::kIpProtocolTcp, dst, o);
}

bool Stack::TcpGlue::is_local_address(Ipv4Address a) { return s_.is_local_address(a); }

int Stack::TcpGlue::route(Ipv4Address dst, Ipv4Address* source, uint16_t* mtu) {
  const Route* r = s_.routes_.lookup(dst);
  if (r == nullptr) return ENETUNREACH;
  *source = Private::source_for(s_, *r, dst);
  if (source->value == 0) return EADDRNOTAVAIL;
  net::Ifnet* ifp = Private::interface(s_, r->ifindex);
  *mtu = static_cast<uint16_t>(ifp != nullptr ? std::min<uint32_t>(ifp->mtu(), 65535) : 1500);
  return 0;
}

void Stack::TcpGlue::wake_at(time::TimePoint when) {
  if (s_.shutting_down_) return;
  const time::TimePoint now = s_.env_.clock().now();
  const auto ms = when > now ? std::chrono::ceil<std::chrono::milliseconds>(when - now).count() : 0;
  s_.env_.timer_arm(s_.tcp_callout_, static_cast<uint32_t>(ms), &TcpGlue::fire, &s_);
}

void Stack::TcpGlue::fire(void* arg) {
  auto* s = static_cast<Stack*>(arg);
  if (s->shutting_down_) return;
  s->tcp_->run_timers(s->env_.clock().now());
}

void Stack::Private::tcp_init(Stack& s) {
  s.env_.timer_init(s.tcp_callout_);
  s.tcp_glue_ = std::make_unique<TcpGlue>(s);
  s.tcp_ = std::make_unique<tcp::TcpLayer>(*s.tcp_glue_, s.config_.tcp);
}

void Stack::Private::tcp_input(Stack& s, const wire::Ipv4View& ip, bool to_broadcast) {
  // RFC 1122 4.2.3.10: a SYN to a broadcast or multicast address is dropped; so is everything
  // else, since no connection can have such an address.
  if (to_broadcast || is_multicast(ip.destination())) {
    ++s.counters_.ip.not_unicast_tcp;
    return;
  }
  s.tcp_->input(ip.source(), ip.destination(), ip.payload(), s.env_.clock().now());
}

void Stack::Private::tcp_icmp_error(Stack& s, uint8_t type, uint8_t code, std::span<const std::byte> icmp,
                                    std::span<const std::byte> quoted) {
  uint16_t mtu = 0;
  int error = 0;
  if (type == kIcmpDestUnreachable && code == kUnreachNeedFrag) {
    mtu = icmp.size() >= 8 ? wire::load_be16(icmp, 6) : 0;  // RFC 1191 4: Next-Hop MTU
    if (mtu == 0) return;  // an old router (RFC 1191 5's plateaus are not implemented)
  } else if (type == kIcmpDestUnreachable) {
    switch (code) {
      case 0: error = ENETUNREACH; break;
      case kUnreachHost: error = EHOSTUNREACH; break;
      case kUnreachProtocol: error = ENOPROTOOPT; break;
      case kUnreachPort: error = ECONNREFUSED; break;
      default: error = EHOSTUNREACH; break;
    }
  } else if (type == kIcmpTimeExceeded) {
    error = EHOSTUNREACH;
  } else if (type == kIcmpParameterProblem) {
    error = EPROTO;
  } else {
    return;
  }
  s.tcp_->icmp_error(quoted, error, mtu, s.env_.clock().now());
}

}  // namespace pktd::inet
