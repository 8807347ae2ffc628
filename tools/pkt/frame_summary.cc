// One line per captured frame, tcpdump-like, decoded with pktd's own wire/ views.
#include <cinttypes>
#include <cstdio>
#include <ctime>

#include "ctl/inet_text.h"
#include "tools/pkt/capture.h"
#include "wire/arp.h"
#include "wire/ethernet.h"
#include "wire/icmpv4.h"
#include "wire/ipv4.h"
#include "wire/udp.h"

namespace pktd::pkt {

namespace {

using Bytes = std::span<const std::byte>;

std::string malformed(wire::ParseError e) {
  return "malformed (" + std::string(wire::to_string(e)) + ")";
}

std::string mac_text(const wire::MacAddress& mac) {
  char text[18];
  const auto& o = mac.octets;
  std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", o[0], o[1], o[2], o[3], o[4],
                o[5]);
  return text;
}

std::string ip_text(wire::Ipv4Address a) { return ctl::format_ipv4(a.value); }

std::string unreachable(uint8_t code) {
  switch (code) {
    case 0:
      return "net unreachable";
    case 1:
      return "host unreachable";
    case 2:
      return "protocol unreachable";
    case wire::icmpv4::kPortUnreachable:
      return "port unreachable";
    case wire::icmpv4::kFragmentationNeeded:
      return "need to frag";
    default:
      return "unreachable code " + std::to_string(code);
  }
}

std::string icmp_text(const wire::Icmpv4View& icmp) {
  namespace t = wire::icmpv4;
  std::string echo = " id " + std::to_string(icmp.echo_identifier()) + " seq " +
                     std::to_string(icmp.echo_sequence());
  switch (icmp.type()) {
    case t::kEchoRequest:
      return "ICMP echo request" + echo;
    case t::kEchoReply:
      return "ICMP echo reply" + echo;
    case t::kDestinationUnreachable:
      return "ICMP " + unreachable(icmp.code());
    case t::kTimeExceeded:
      return icmp.code() == 0 ? "ICMP time exceeded in transit" : "ICMP reassembly time exceeded";
    default:
      return "ICMP type " + std::to_string(icmp.type()) + " code " + std::to_string(icmp.code());
  }
}

std::string ipv4_text(Bytes packet) {
  auto ip = wire::Ipv4View::parse(packet);
  if (!ip) return malformed(ip.error());
  std::string from = ip_text(ip->source()), to = ip_text(ip->destination());
  if (ip->is_fragment())
    return from + " > " + to + " IP fragment id " + std::to_string(ip->identification()) +
           " offset " + std::to_string(ip->fragment_offset() * 8) +
           (ip->more_fragments() ? "+" : "") + " proto " + std::to_string(ip->protocol());
  if (ip->protocol() == wire::kIpProtocolIcmp) {
    auto icmp = wire::Icmpv4View::parse(ip->payload());
    return icmp ? from + " > " + to + " " + icmp_text(*icmp) : malformed(icmp.error());
  }
  if (ip->protocol() == wire::kIpProtocolUdp) {
    auto udp = wire::UdpView::parse(*ip);
    if (!udp) return malformed(udp.error());
    return from + "." + std::to_string(udp->source_port()) + " > " + to + "." +
           std::to_string(udp->destination_port()) + " UDP " +
           std::to_string(udp->payload().size());
  }
  return from + " > " + to + " IP proto " + std::to_string(ip->protocol()) + " length " +
         std::to_string(ip->total_length());
}

std::string arp_text(const wire::ArpView& arp) {
  if (arp.operation() == wire::ArpOperation::request)
    return "ARP who-has " + ip_text(arp.target_ip()) + " tell " + ip_text(arp.sender_ip());
  return "ARP reply " + ip_text(arp.sender_ip()) + " is-at " + mac_text(arp.sender_mac());
}

std::string ethernet_text(Bytes frame) {
  auto eth = wire::EthernetView::parse(frame);
  if (!eth) return malformed(eth.error());
  std::string vlan = eth->vlan() ? "vlan " + std::to_string(eth->vlan()->vid) + " " : "";
  std::string macs = mac_text(eth->source()) + " > " + mac_text(eth->destination()) + " ";
  switch (eth->ethertype()) {
    case wire::kEthertypeIpv4:
      return vlan + ipv4_text(eth->payload());
    case wire::kEthertypeArp: {
      auto arp = wire::ArpView::parse(eth->payload());
      return arp ? macs + vlan + arp_text(*arp) : malformed(arp.error());
    }
    case wire::kEthertypeIpv6:
      return macs + vlan + "IPv6";
    default: {
      char type[16];
      std::snprintf(type, sizeof type, "0x%04x", eth->ethertype());
      return macs + vlan + "ethertype " + type;
    }
  }
}

}  // namespace

std::string summarize_frame(std::span<const std::byte> frame, uint32_t link_type) {
  if (link_type == kLinkTypeEthernet) return ethernet_text(frame);
  if (link_type == kLinkTypeRaw) return ipv4_text(frame);
  return "link type " + std::to_string(link_type);
}

std::string format_frame(const ctl::CapturedFrame& frame, uint32_t link_type) {
  constexpr int64_t kNs = 1'000'000'000;
  int64_t t = frame.time_ns < 0 ? 0 : frame.time_ns;
  time_t seconds = static_cast<time_t>(t / kNs);
  tm local{};
  localtime_r(&seconds, &local);
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%02d:%02d:%02d.%06" PRId64, local.tm_hour, local.tm_min,
                local.tm_sec, t % kNs / 1000);
  auto bytes = std::as_bytes(std::span(frame.data.data(), frame.data.size()));
  return std::string(stamp) + (frame.outgoing ? " out " : " in ") +
         std::to_string(frame.original_length) + " " + summarize_frame(bytes, link_type) + "\n";
}

}  // namespace pktd::pkt
