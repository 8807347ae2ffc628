// The stack's internal paths, shared by its source files (ether.cc, arp.cc, ipv4.cc, icmp.cc,
// udp.cc). Everything here runs in the stack context.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "inet/stack.h"
#include "wire/arp.h"
#include "wire/ethernet.h"
#include "wire/icmpv4.h"
#include "wire/ipv4.h"

namespace pktd::inet {

// ICMP types and codes used here (RFC 792, RFC 1191).
inline constexpr uint8_t kIcmpEchoReply = 0;
inline constexpr uint8_t kIcmpDestUnreachable = 3;
inline constexpr uint8_t kIcmpEchoRequest = 8;
inline constexpr uint8_t kIcmpTimeExceeded = 11;
inline constexpr uint8_t kIcmpParameterProblem = 12;
inline constexpr uint8_t kUnreachProtocol = 2;
inline constexpr uint8_t kUnreachPort = 3;
inline constexpr uint8_t kUnreachHost = 1;
inline constexpr uint8_t kUnreachNeedFrag = 4;
inline constexpr uint8_t kTimeExceededReassembly = 1;

// The bytes of a packet as one span: in place when the first mbuf holds them all (the common
// case), else copied into scratch.
std::span<const std::byte> contiguous(const buf::Mbuf& m, std::vector<std::byte>& scratch);

// Dotted quad, for log lines.
inline std::string address_text(Ipv4Address a) {
  return std::to_string(a.value >> 24) + "." + std::to_string((a.value >> 16) & 0xFF) + "." +
         std::to_string((a.value >> 8) & 0xFF) + "." + std::to_string(a.value & 0xFF);
}

constexpr bool is_multicast(Ipv4Address a) { return (a.value >> 28) == 0xE; }       // 224/4
constexpr bool is_limited_broadcast(Ipv4Address a) { return a.value == 0xFFFFFFFFu; }
constexpr bool is_loopback_net(Ipv4Address a) { return (a.value >> 24) == 127; }    // RFC 1122 3.2.1.3 (g)
constexpr bool is_reserved_class_e(Ipv4Address a) { return (a.value >> 28) == 0xF && !is_limited_broadcast(a); }

// The stack as the TCP layer sees it (transport/tcp/layer.h); tcp.cc.
class Stack::TcpGlue final : public tcp::TcpHost {
 public:
  explicit TcpGlue(Stack& s) : s_(s) {}
  int transmit(Ipv4Address src, Ipv4Address dst, const wire::TcpSegment& segment, uint8_t ttl,
               uint8_t tos) override;
  bool is_local_address(Ipv4Address a) override;
  int route(Ipv4Address dst, Ipv4Address* source, uint16_t* mtu) override;
  void wake_at(time::TimePoint when) override;

 private:
  static void fire(void* arg);
  Stack& s_;
  std::vector<std::byte> bytes_;  // one segment on its way to an mbuf
};

struct Stack::Private {
  // stack.cc
  static net::Ifnet* interface(Stack& s, uint32_t ifindex);
  static void arm_slow_timer(Stack& s);
  static void tap(Stack& s, net::Ifnet& ifp, const buf::Mbuf& m, bool outgoing);
  static const IfAddress* address_for(Stack& s, uint32_t ifindex, Ipv4Address peer);
  static bool is_broadcast_for(Stack& s, uint32_t ifindex, Ipv4Address a);
  // A broadcast address of any of our networks (or the limited broadcast).
  static bool is_our_broadcast(Stack& s, Ipv4Address a);
  // The source a datagram to destination takes along route: the route's own, else the address
  // of its interface on the next hop's network, else the interface's primary; 0 if it has none.
  static Ipv4Address source_for(Stack& s, const Route& route, Ipv4Address destination);
  // ether.cc
  static void frame_input(Stack& s, net::Ifnet& ifp, buf::MbufPtr m);
  static int ether_output(Stack& s, net::Ifnet& ifp, buf::MbufPtr m, const MacAddress& dst,
                          uint16_t ethertype);
  static int interface_output(Stack& s, net::Ifnet& ifp, buf::MbufPtr frame);
  // arp.cc
  static void arp_input(Stack& s, net::Ifnet& ifp, buf::MbufPtr m);
  static int arp_resolve_and_send(Stack& s, net::Ifnet& ifp, Ipv4Address next_hop, buf::MbufPtr m);
  static void arp_request(Stack& s, net::Ifnet& ifp, Ipv4Address target, Ipv4Address sender);
  static void arp_timer(Stack& s, time::TimePoint now);
  // Sends p to link_dst; true when the driver took it (no_buffers counted otherwise).
  static bool send_arp(Stack& s, net::Ifnet& ifp, const wire::ArpPacket& p, MacAddress link_dst);
  static void arp_reply(Stack& s, net::Ifnet& ifp, const wire::ArpView& request);
  static void arp_resolved(Stack& s, net::Ifnet& ifp, ArpEntry& e, MacAddress mac, time::TimePoint now);
  static void arp_fail(Stack& s, ArpEntry& e);
  // ipv4.cc
  static void ip_input(Stack& s, net::Ifnet& ifp, buf::MbufPtr m, bool link_broadcast);
  static int ip_send_packet(Stack& s, buf::MbufPtr packet, const Route& route,
                            Ipv4Address destination);
  static int link_output(Stack& s, net::Ifnet& ifp, buf::MbufPtr packet, Ipv4Address next_hop);
  static bool bad_source(Stack& s, const net::Ifnet& ifp, Ipv4Address src);
  // icmp.cc
  static void icmp_input(Stack& s, net::Ifnet& ifp, const wire::Ipv4View& ip,
                         bool to_broadcast);
  // Sends an ICMP error about `offending` (its IPv4 header first) unless RFC 1122 3.2.2 forbids
  // it or the rate limit says no.
  static void icmp_error(Stack& s, const buf::Mbuf& offending, uint8_t type, uint8_t code,
                         uint32_t extra, bool link_broadcast);
  static bool icmp_error_forbidden(Stack& s, const wire::Ipv4View& ip, bool link_broadcast);
  // udp.cc
  static void udp_input(Stack& s, net::Ifnet& ifp, const wire::Ipv4View& ip, const buf::Mbuf& packet,
                        bool to_broadcast, bool link_broadcast);
  static void deliver_udp(UdpCounters& c, UdpSocket& sock, UdpEndpoint from, UdpEndpoint to,
                          std::span<const std::byte> data);
  // tcp.cc
  static void tcp_init(Stack& s);
  static void tcp_input(Stack& s, const wire::Ipv4View& ip, bool to_broadcast);
  // An ICMP error (its whole message, and the datagram it quotes) about a TCP segment.
  static void tcp_icmp_error(Stack& s, uint8_t type, uint8_t code, std::span<const std::byte> icmp,
                             std::span<const std::byte> quoted);
  // An ICMP error quoting a UDP datagram: tells the connected socket that sent it.
  static void udp_error(Stack& s, std::span<const std::byte> quoted, int error);
};

}  // namespace pktd::inet
