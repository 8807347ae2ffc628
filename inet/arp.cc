// ARP (RFC 826) with the RFC 1122 2.3.2 rules: requests at most once a second, a bounded queue of
// packets per unresolved address, entries that time out; RFC 5227 announcements and conflicts.
#include <cerrno>
#include <utility>
#include <vector>

#include "base/log.h"
#include "inet/stack_internal.h"
#include "wire/arp.h"
#include "wire/ethernet.h"

namespace pktd::inet {

namespace {

constexpr size_t kArpPacketLength = 28;

void count_parse_error(ArpCounters& c, wire::ParseError e) {
  switch (e) {
    case wire::ParseError::unsupported_hardware: ++c.unsupported_hardware; break;
    case wire::ParseError::unsupported_protocol: ++c.unsupported_protocol; break;
    case wire::ParseError::bad_address_length: ++c.bad_address_length; break;
    case wire::ParseError::bad_operation: ++c.bad_operation; break;
    default: ++c.truncated; break;
  }
}

bool on_link(const std::vector<IfAddress>& list, Ipv4Address a) {
  for (const IfAddress& ia : list)
    if (in_prefix(a, ia.address, ia.prefix_len)) return true;
  return false;
}

bool has_address(const std::vector<IfAddress>& list, Ipv4Address a) {
  for (const IfAddress& ia : list)
    if (ia.address == a) return true;
  return false;
}

}  // namespace

bool Stack::Private::send_arp(Stack& s, net::Ifnet& ifp, const wire::ArpPacket& p, MacAddress link_dst) {
  buf::MbufPtr m = buf::get_packet(buf::Wait::nowait, kArpPacketLength);
  if (!m || !buf::append(*m, std::span<const std::byte>(std::array<std::byte, kArpPacketLength>{}))) {
    ++s.counters_.arp.no_buffers;
    return false;
  }
  (void)p.emit(m->bytes());
  return ether_output(s, ifp, std::move(m), link_dst, wire::kEthertypeArp) == 0;
}

void Stack::Private::arp_request(Stack& s, net::Ifnet& ifp, Ipv4Address target, Ipv4Address sender) {
  wire::ArpPacket p{wire::ArpOperation::request, MacAddress{ifp.mac()}, sender, MacAddress{}, target};
  if (send_arp(s, ifp, p, MacAddress::broadcast())) ++s.counters_.arp.requests_sent;
}

void Stack::Private::arp_reply(Stack& s, net::Ifnet& ifp, const wire::ArpView& request) {
  wire::ArpPacket p{wire::ArpOperation::reply, MacAddress{ifp.mac()}, request.target_ip(),
                    request.sender_mac(), request.sender_ip()};
  if (send_arp(s, ifp, p, request.sender_mac())) ++s.counters_.arp.replies_sent;
}

// Fills the entry and sends what waited for it.
void Stack::Private::arp_resolved(Stack& s, net::Ifnet& ifp, ArpEntry& e, MacAddress mac,
                                   time::TimePoint now) {
  if (e.state == ArpState::permanent) return;  // set by the user; the network does not change it
  e.mac = mac;
  e.state = ArpState::reachable;
  e.deadline = now + s.arp_.config().reachable_time;
  e.requests_sent = 0;
  for (buf::MbufPtr& m : s.arp_.take_held(e))
    (void)ether_output(s, ifp, std::move(m), mac, wire::kEthertypeIpv4);
}

void Stack::Private::arp_input(Stack& s, net::Ifnet& ifp, buf::MbufPtr m) {
  ArpCounters& c = s.counters_.arp;
  ++c.received;
  std::vector<std::byte> scratch;
  auto arp = wire::ArpView::parse(contiguous(*m, scratch));
  if (!arp) {
    count_parse_error(c, arp.error());
    return;
  }
  bool request = arp->operation() == wire::ArpOperation::request;
  ++(request ? c.requests_received : c.replies_received);
  MacAddress sender_mac = arp->sender_mac();
  Ipv4Address sender = arp->sender_ip();
  Ipv4Address target = arp->target_ip();
  if (sender_mac.is_multicast() || sender_mac == MacAddress{} || is_multicast(sender) ||
      is_limited_broadcast(sender)) {
    ++c.bad_sender;
    return;
  }
  if (sender_mac == MacAddress{ifp.mac()}) {
    ++c.bad_sender;  // our own request, reflected
    return;
  }
  const auto& mine = s.addresses_[ifp.index()];
  if (sender.value != 0 && !is_loopback_net(sender) && s.is_local_address(sender)) {
    // RFC 5227 2.4: someone else uses one of our addresses. Count every one; log at most one a
    // second, so a peer cannot flood the log. Ours is kept (no defence yet).
    ++c.duplicate_address;
    time::TimePoint now = s.env_.clock().now();
    if (now - s.duplicate_logged_ >= std::chrono::seconds(1) || s.duplicate_logged_ == time::TimePoint{}) {
      s.duplicate_logged_ = now;
      PKTD_LOG_WARN("%s: duplicate address %s in use by %s", ifp.name().c_str(),
                    address_text(sender).c_str(), net::format_mac(sender_mac.octets).c_str());
    }
    return;
  }
  // Senders IPv4 would refuse as a source (127/8, class E, a broadcast) are not learned either.
  if (sender.value != 0 && bad_source(s, ifp, sender)) {
    ++c.bad_sender;
    return;
  }
  time::TimePoint now = s.env_.clock().now();
  bool for_us = has_address(mine, target);
  // RFC 826 "merge": update the pair if we already know the sender.
  ArpEntry* e = sender.value != 0 ? s.arp_.find(ifp.index(), sender) : nullptr;
  if (e != nullptr) {
    arp_resolved(s, ifp, *e, sender_mac, now);
  } else if (for_us && request && sender.value != 0 && on_link(mine, sender)) {
    // RFC 826: a request for us adds the sender (it will talk to us next). Only a sender on one
    // of our networks: we would never send to another one directly, and learning any address a
    // peer names would let it churn the cache.
    std::vector<buf::MbufPtr> evicted;
    e = s.arp_.create(ifp.index(), sender, now, &evicted);
    c.held_packets_dropped += evicted.size();
    if (e != nullptr) arp_resolved(s, ifp, *e, sender_mac, now);
    else ++c.cache_full;
    arm_slow_timer(s);
  } else if (!request) {
    ++c.unsolicited_replies;  // nobody asked (Linux's arp_accept=0 ignores these too)
    return;
  }
  if (!for_us) {
    if (e == nullptr) ++c.not_for_us;
    return;
  }
  if (request) arp_reply(s, ifp, *arp);
}

int Stack::Private::arp_resolve_and_send(Stack& s, net::Ifnet& ifp, Ipv4Address next_hop,
                                         buf::MbufPtr m) {
  time::TimePoint now = s.env_.clock().now();
  ArpEntry* e = s.arp_.find(ifp.index(), next_hop);
  if (e != nullptr && (e->state == ArpState::permanent ||
                       (e->state == ArpState::reachable && e->deadline > now)))
    return ether_output(s, ifp, std::move(m), e->mac, wire::kEthertypeIpv4);
  bool ask_now = false;
  if (e == nullptr) {
    std::vector<buf::MbufPtr> evicted;
    e = s.arp_.create(ifp.index(), next_hop, now, &evicted);
    s.counters_.arp.held_packets_dropped += evicted.size();
    if (e == nullptr) {
      ++s.counters_.arp.cache_full;
      return EHOSTUNREACH;
    }
    ask_now = true;
  } else if (e->state == ArpState::reachable) {
    e->state = ArpState::incomplete;  // expired: ask again
    e->requests_sent = 0;
    ask_now = true;
  }
  if (!s.arp_.hold(*e, m)) {
    ++s.counters_.arp.held_packets_dropped;
    ++s.counters_.ip.unresolved;  // like Linux: the queue overflows silently for the sender
  }
  // Ask even when the packet could not wait: the next one to this address will find it resolved.
  if (ask_now) {
    const IfAddress* src = address_for(s, ifp.index(), next_hop);
    arp_request(s, ifp, next_hop, src != nullptr ? src->address : Ipv4Address{});
    e->requests_sent = 1;
    e->deadline = now + s.arp_.config().retransmit;
  }
  arm_slow_timer(s);
  return 0;
}

void Stack::Private::arp_fail(Stack& s, ArpEntry& e) {
  ++s.counters_.arp.resolution_failed;
  uint32_t ifindex = e.ifindex;
  Ipv4Address a = e.address;
  std::vector<buf::MbufPtr> held = s.arp_.erase(ifindex, a);
  s.counters_.ip.unresolved += held.size();
  // RFC 1122 3.2.2.1: tell the sender the host is unreachable (our own pings see it, as on Linux).
  for (const buf::MbufPtr& m : held) icmp_error(s, *m, kIcmpDestUnreachable, kUnreachHost, 0, false);
}

void Stack::Private::arp_timer(Stack& s, time::TimePoint now) {
  // By key, not by pointer: what an entry's turn sends (a failure's host unreachable to an
  // address on the link) may create entries and so evict others still to be looked at.
  std::vector<std::pair<uint32_t, Ipv4Address>> due;
  for (ArpEntry* e : s.arp_.due(now)) due.emplace_back(e->ifindex, e->address);
  for (const auto& [ifindex, address] : due) {
    ArpEntry* e = s.arp_.find(ifindex, address);
    if (e == nullptr || e->state == ArpState::permanent || e->deadline > now) continue;
    if (e->state == ArpState::reachable) {
      ++s.counters_.arp.entries_expired;
      s.counters_.arp.held_packets_dropped += s.arp_.erase(e->ifindex, e->address).size();
      continue;
    }
    if (e->requests_sent >= s.arp_.config().max_requests) {
      arp_fail(s, *e);
      continue;
    }
    net::Ifnet* ifp = interface(s, e->ifindex);
    if (ifp == nullptr) continue;
    const IfAddress* src = address_for(s, e->ifindex, e->address);
    arp_request(s, *ifp, e->address, src != nullptr ? src->address : Ipv4Address{});
    ++e->requests_sent;
    e->deadline = now + s.arp_.config().retransmit;
  }
}

}  // namespace pktd::inet
