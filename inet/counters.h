// The stack's counters: what `pkt netstat -s` prints. Every drop has its own counter named for
// its reason (STYLE.md). Stack context only, so plain integers.
//
// Each group is an X-macro list, so the struct and the names netstat shows cannot drift apart.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace pktd::inet {

#define PKTD_ETHER_COUNTERS(X)                                                        \
  X(received) X(sent) X(truncated) X(llc_frames) X(bad_vlan_id) X(vlan_tagged)         \
  X(unknown_ethertype) X(not_for_us) X(from_own_address) X(bad_loopback_frame)        \
  X(no_buffers) X(vlan_frames_dropped) X(input_queue_full) X(interface_gone)

#define PKTD_ARP_COUNTERS(X)                                                          \
  X(received) X(requests_received) X(replies_received) X(requests_sent)               \
  X(replies_sent) X(gratuitous_sent) X(truncated) X(unsupported_hardware)             \
  X(unsupported_protocol) X(bad_address_length) X(bad_operation) X(bad_sender)        \
  X(not_for_us) X(unsolicited_replies) X(duplicate_address) X(resolution_failed)      \
  X(held_packets_dropped) X(cache_full) X(entries_expired) X(no_buffers)

#define PKTD_IP_COUNTERS(X)                                                           \
  X(received) X(delivered) X(sent) X(truncated) X(bad_version) X(bad_header_length)  \
  X(bad_total_length) X(bad_checksum) X(bad_fragment) X(bad_source) X(not_for_us)    \
  X(with_options) X(bad_options) X(unknown_protocol) X(not_unicast_tcp) X(no_route) X(no_source_address) X(too_long) X(no_buffers) X(link_queue_full)    \
  X(interface_down) X(unresolved) X(fragments_received) X(reassembled)                \
  X(fragmented) X(fragments_created) X(cant_fragment) X(sent_to_self)

#define PKTD_ICMP_COUNTERS(X)                                                         \
  X(received) X(truncated) X(bad_checksum) X(echo_requests) X(echo_replies_sent)      \
  X(echo_replies_received) X(echo_replies_unmatched) X(dest_unreachable_received)     \
  X(time_exceeded_received) X(parameter_problem_received) X(other_received)           \
  X(errors_sent) X(dest_unreachable_sent) X(time_exceeded_sent)                       \
  X(parameter_problem_sent) X(rate_limited) X(error_suppressed) X(broadcast_echo_ignored)    \
  X(no_buffers) X(reply_failed)

#define PKTD_UDP_COUNTERS(X)                                                          \
  X(received) X(delivered) X(sent) X(truncated) X(bad_length) X(bad_checksum)         \
  X(no_port) X(no_port_broadcast) X(queue_full) X(no_buffers) X(icmp_errors_reported)

#define PKTD_DECLARE_COUNTER(name) uint64_t name = 0;
#define PKTD_NAME_COUNTER(name) out[#name] = name;

#define PKTD_COUNTER_GROUP(Type, LIST)                       \
  struct Type {                                              \
    LIST(PKTD_DECLARE_COUNTER)                               \
    std::map<std::string, uint64_t> named() const {          \
      std::map<std::string, uint64_t> out;                   \
      LIST(PKTD_NAME_COUNTER)                                \
      return out;                                            \
    }                                                        \
  };

PKTD_COUNTER_GROUP(EtherCounters, PKTD_ETHER_COUNTERS)
PKTD_COUNTER_GROUP(ArpCounters, PKTD_ARP_COUNTERS)
PKTD_COUNTER_GROUP(IpCounters, PKTD_IP_COUNTERS)
PKTD_COUNTER_GROUP(IcmpCounters, PKTD_ICMP_COUNTERS)
PKTD_COUNTER_GROUP(UdpCounters, PKTD_UDP_COUNTERS)

#undef PKTD_COUNTER_GROUP

struct Counters {
  EtherCounters ether;
  ArpCounters arp;
  IpCounters ip;
  IcmpCounters icmp;
  UdpCounters udp;

  std::map<std::string, std::map<std::string, uint64_t>> named() const {
    return {{"ether", ether.named()}, {"arp", arp.named()}, {"ip", ip.named()},
            {"icmp", icmp.named()}, {"udp", udp.named()}};
  }
};

}  // namespace pktd::inet
