// ICMP (RFC 792): echo, the errors pktd receives (handed to whoever sent the quoted packet) and
// the errors it sends, under RFC 1122 3.2.2's rules and a rate limit (RFC 1812 4.3.2.8).
#include <algorithm>
#include <cerrno>

#include "inet/stack_internal.h"

namespace pktd::inet {

namespace {

// RFC 1812 4.3.2.3: quote as much of the original as fits in a 576-octet datagram.
constexpr size_t kMaxQuoted = 576 - wire::Ipv4View::kMinHeaderLength - wire::Icmpv4View::kHeaderLength;

bool is_error_type(uint8_t type) {
  return type == kIcmpDestUnreachable || type == 4 /* source quench */ || type == 5 /* redirect */ ||
         type == kIcmpTimeExceeded || type == kIcmpParameterProblem;
}

buf::MbufPtr message_packet(const wire::Icmpv4Message& msg) {
  std::vector<std::byte> bytes(msg.length());
  if (!msg.emit(bytes)) return nullptr;
  return buf::packet_from(bytes, buf::Wait::nowait, 64);
}

// The echo a quoted packet carried, if it was one of ours: (identifier, sequence).
std::optional<std::pair<uint16_t, uint16_t>> quoted_echo(std::span<const std::byte> quoted) {
  if (quoted.size() < wire::Ipv4View::kMinHeaderLength) return std::nullopt;
  size_t ihl = size_t{wire::load_u8(quoted, 0) & 0x0FU} * 4;
  if ((wire::load_u8(quoted, 0) >> 4) != 4 || ihl < 20 || quoted.size() < ihl + 8) return std::nullopt;
  if (wire::load_u8(quoted, 9) != wire::kIpProtocolIcmp) return std::nullopt;
  if (wire::load_u8(quoted, ihl) != kIcmpEchoRequest) return std::nullopt;
  return std::pair{wire::load_be16(quoted, ihl + 4), wire::load_be16(quoted, ihl + 6)};
}

// The ICMP errors that end a UDP exchange, with the errno Linux reports for them on a connected
// socket (RFC 1122 4.1.3.3 passes them up; Linux's icmp_err_convert marks which are hard: the
// soft ones, like host unreachable or fragmentation needed, are not reported without
// IP_RECVERR).
int hard_udp_error(uint8_t type, uint8_t code) {
  if (type == kIcmpParameterProblem) return EPROTO;
  if (type != kIcmpDestUnreachable) return 0;
  switch (code) {
    case kUnreachProtocol: return ENOPROTOOPT;
    case kUnreachPort: return ECONNREFUSED;
    case 6: return ENETUNREACH;    // destination network unknown (RFC 1122 3.2.2.1)
    case 7: return EHOSTDOWN;      // destination host unknown
    case 8: return ENONET;         // source host isolated
    case 9: return ENETUNREACH;    // network administratively prohibited
    case 10: return EHOSTUNREACH;  // host administratively prohibited
    case 13: return EHOSTUNREACH;  // communication administratively prohibited (RFC 1812 5.2.7.1)
    case 14: return EHOSTUNREACH;  // host precedence violation
    case 15: return EHOSTUNREACH;  // precedence cutoff in effect
    default: return 0;
  }
}

void count_error_received(IcmpCounters& c, uint8_t type) {
  if (type == kIcmpDestUnreachable) ++c.dest_unreachable_received;
  else if (type == kIcmpTimeExceeded) ++c.time_exceeded_received;
  else ++c.parameter_problem_received;
}

}  // namespace

void Stack::Private::icmp_input(Stack& s, net::Ifnet&, const wire::Ipv4View& ip, bool to_broadcast) {
  IcmpCounters& c = s.counters_.icmp;
  ++c.received;
  auto icmp = wire::Icmpv4View::parse(ip.payload());
  if (!icmp) {
    ++(icmp.error() == wire::ParseError::bad_checksum ? c.bad_checksum : c.truncated);
    return;
  }
  switch (icmp->type()) {
    case kIcmpEchoRequest: {
      if (to_broadcast) {
        ++c.broadcast_echo_ignored;  // Linux icmp_echo_ignore_broadcasts=1 (smurf amplification)
        return;
      }
      ++c.echo_requests;
      auto reply = wire::Icmpv4Message::echo(kIcmpEchoReply, icmp->echo_identifier(),
                                             icmp->echo_sequence(), icmp->payload());
      buf::MbufPtr m = message_packet(reply);
      if (!m) {
        ++c.no_buffers;
        return;
      }
      SendOptions o;
      o.source = ip.destination();
      o.tos = ip.tos();
      if (s.ip_output(std::move(m), wire::kIpProtocolIcmp, ip.source(), o) == 0) ++c.echo_replies_sent;
      else ++c.reply_failed;  // no route back, or the link refused it (ip counts which)
      return;
    }
    case kIcmpEchoReply: {
      auto it = s.echo_listeners_.find(icmp->echo_identifier());
      if (it == s.echo_listeners_.end()) {
        ++c.echo_replies_unmatched;
        return;
      }
      ++c.echo_replies_received;
      EchoEvent e{icmp->echo_sequence(), ip.source(), ip.ttl(), icmp->bytes().size(), false, 0, 0,
                  s.env_.clock().now()};
      it->second(e);
      return;
    }
    case kIcmpDestUnreachable:
    case kIcmpTimeExceeded:
    case kIcmpParameterProblem: {
      count_error_received(c, icmp->type());
      if (int error = hard_udp_error(icmp->type(), icmp->code()))
        Stack::Private::udp_error(s, icmp->payload(), error);
      Stack::Private::tcp_icmp_error(s, icmp->type(), icmp->code(), icmp->bytes(), icmp->payload());
      auto echo = quoted_echo(icmp->payload());
      if (!echo) return;
      auto it = s.echo_listeners_.find(echo->first);
      if (it == s.echo_listeners_.end()) return;
      EchoEvent e{echo->second, ip.source(), ip.ttl(), icmp->bytes().size(), true, icmp->type(),
                  icmp->code(), s.env_.clock().now()};
      it->second(e);
      return;
    }
    default:
      ++c.other_received;
      return;
  }
}

// RFC 1122 3.2.2: never about an ICMP error, a non-first fragment, a datagram sent to a
// broadcast or multicast address (IP or link layer), or one whose source is not a unique host.
bool Stack::Private::icmp_error_forbidden(Stack& s, const wire::Ipv4View& ip, bool link_broadcast) {
  if (link_broadcast || ip.fragment_offset() != 0) return true;
  Ipv4Address src = ip.source(), dst = ip.destination();
  if (src.value == 0 || is_multicast(src) || is_limited_broadcast(src) || is_reserved_class_e(src))
    return true;
  if (is_multicast(dst) || is_limited_broadcast(dst)) return true;
  if (is_our_broadcast(s, dst) || is_our_broadcast(s, src)) return true;
  if (ip.protocol() == wire::kIpProtocolIcmp) {
    auto payload = ip.payload();
    if (payload.empty() || is_error_type(wire::load_u8(payload, 0))) return true;
  }
  return false;
}

void Stack::Private::icmp_error(Stack& s, const buf::Mbuf& offending, uint8_t type, uint8_t code,
                                uint32_t extra, bool link_broadcast) {
  IcmpCounters& c = s.counters_.icmp;
  std::vector<std::byte> scratch;
  auto ip = wire::Ipv4View::parse(contiguous(offending, scratch), wire::ChecksumCheck::skip);
  if (!ip || icmp_error_forbidden(s, *ip, link_broadcast)) {
    ++c.error_suppressed;
    return;
  }
  // Token bucket: icmp_errors_per_second, bursts of icmp_error_burst.
  time::TimePoint now = s.env_.clock().now();
  double elapsed = std::chrono::duration<double>(now - s.icmp_refilled_).count();
  s.icmp_refilled_ = now;
  s.icmp_tokens_ = std::min<double>(s.config_.icmp_error_burst,
                                    s.icmp_tokens_ + elapsed * s.config_.icmp_errors_per_second);
  if (s.icmp_tokens_ < 1) {
    ++c.rate_limited;
    return;
  }
  s.icmp_tokens_ -= 1;
  auto quoted = ip->bytes().first(std::min(ip->bytes().size(), kMaxQuoted));
  wire::Icmpv4Message msg{type, code, extra, quoted};
  buf::MbufPtr m = message_packet(msg);
  if (!m) {
    ++c.no_buffers;
    return;
  }
  SendOptions o;
  if (s.is_local_address(ip->destination())) o.source = ip->destination();  // the address asked
  if (s.ip_output(std::move(m), wire::kIpProtocolIcmp, ip->source(), o) != 0) return;
  ++c.errors_sent;
  if (type == kIcmpDestUnreachable) ++c.dest_unreachable_sent;
  else if (type == kIcmpTimeExceeded) ++c.time_exceeded_sent;
  else if (type == kIcmpParameterProblem) ++c.parameter_problem_sent;
}

int Stack::send_echo(Ipv4Address destination, uint16_t id, uint16_t sequence, size_t data_size,
                     uint8_t ttl) {
  std::vector<std::byte> data(data_size);
  for (size_t i = 0; i < data_size; ++i) data[i] = static_cast<std::byte>(i & 0xFF);  // ping(8)'s pattern
  buf::MbufPtr m = message_packet(wire::Icmpv4Message::echo(kIcmpEchoRequest, id, sequence, data));
  if (!m) return ENOBUFS;
  SendOptions o;
  o.ttl = ttl;
  return ip_output(std::move(m), wire::kIpProtocolIcmp, destination, o);
}

}  // namespace pktd::inet
