// The IPv4 stack of one pktd instance: Ethernet in and out, ARP, IPv4 with fragments, ICMP, UDP,
// routes and addresses. Runs in the stack context only, except Ifnet input, which any worker may
// call: frames are queued and drained in the stack context in batches (one post per batch, not
// per frame).
//
// docs/inet.md describes the paths and the decisions; counters.h names every drop.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "buf/mbuf.h"
#include "inet/arp_cache.h"
#include "inet/capture.h"
#include "inet/counters.h"
#include "inet/env.h"
#include "inet/fragment.h"
#include "inet/route.h"
#include "inet/udp_table.h"
#include "net/interfaces.h"
#include "transport/tcp/layer.h"
#include "wire/address.h"

namespace pktd::inet {

using wire::Ipv4Address;
using wire::MacAddress;

struct StackConfig {
  ArpConfig arp;
  ReassemblyConfig reassembly;
  uint8_t default_ttl = 64;                 // Linux ip_default_ttl
  uint32_t icmp_errors_per_second = 1000;   // Linux icmp_msgs_per_sec
  uint32_t icmp_error_burst = 50;           // Linux icmp_msgs_burst
  size_t input_queue_max = 4096;            // frames waiting for the stack context
  time::Duration capture_idle_timeout = std::chrono::seconds(10);
  tcp::TcpConfig tcp;
};

struct IfAddress {
  Ipv4Address address;
  uint8_t prefix_len = 0;
  Ipv4Address network() const { return {address.value & prefix_mask(prefix_len)}; }
  // RFC 919/922: all host bits one; none for /31 and /32 (RFC 3021).
  std::optional<Ipv4Address> broadcast() const {
    if (prefix_len >= 31) return std::nullopt;
    return Ipv4Address{address.value | ~prefix_mask(prefix_len)};
  }
};

// What a ping gets back: an echo reply, or an ICMP error quoting its request.
struct EchoEvent {
  uint16_t sequence = 0;
  Ipv4Address from;
  uint8_t ttl = 0;
  size_t icmp_bytes = 0;
  bool error = false;
  uint8_t error_type = 0, error_code = 0;
  time::TimePoint when;
};

class Stack : private net::Interfaces::Observer {
 public:
  Stack(Env& env, net::Interfaces& interfaces, StackConfig config = {});
  ~Stack();  // shutdown() if not done
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  // Stops taking frames and timers (stack context); the object stays valid for callers still
  // holding it (a ping sleeping on a pseudo-thread) until it is destroyed. Idempotent.
  void shutdown();
  const StackConfig& config() const { return config_; }
  // Named counters for netstat -s, reassembly's included.
  std::map<std::string, std::map<std::string, uint64_t>> statistics() const;

  // --- interfaces (stack context) ---
  // Takes the interface's received frames from now on. lo0 gets 127.0.0.1/8.
  void attach(net::Ifnet& ifp);
  // Before the interface is destroyed: forgets its addresses, routes, ARP entries and frames.
  void detach(net::Ifnet& ifp);

  // --- addresses ---
  // Adds address/prefix_len; without alias it replaces the primary (first) address. Makes the
  // connected route and the local route through lo0, and announces the address (RFC 5227
  // gratuitous ARP). EEXIST, EINVAL (0.0.0.0, multicast, broadcast), ENXIO (no such interface).
  int add_address(uint32_t ifindex, IfAddress a, bool alias);
  int delete_address(uint32_t ifindex, Ipv4Address a);  // EADDRNOTAVAIL if it has no such address
  // RFC 5227 2.3 announcements of every address of an interface that has just come up.
  void announce(uint32_t ifindex);
  std::vector<IfAddress> addresses(uint32_t ifindex) const;
  bool is_local_address(Ipv4Address a) const;
  // 255.255.255.255, or the broadcast address of one of our networks.
  bool is_broadcast_address(Ipv4Address a);

  // --- routes ---
  const RouteTable& routes() const { return routes_; }
  // A static route: through gateway (which must be reachable by a connected route: ENETUNREACH)
  // or, without one, straight out of ifindex.
  int add_route(Ipv4Address destination, uint8_t prefix_len, std::optional<Ipv4Address> gateway,
                uint32_t ifindex);
  int delete_route(Ipv4Address destination, uint8_t prefix_len);

  // --- ARP ---
  ArpCache& arp_cache() { return arp_; }
  int arp_set_permanent(Ipv4Address a, MacAddress mac);  // on the interface with a connected route
  int arp_delete(Ipv4Address a);                         // every interface; ESRCH if none
  void set_arp_reachable_time(time::Duration d) { arp_.set_reachable_time(d); }

  // --- sending ---
  struct SendOptions {
    Ipv4Address source;  // 0: chosen from the route
    uint8_t ttl = 0;     // 0: default_ttl
    uint8_t tos = 0;
    bool dont_fragment = false;
  };
  // Sends payload (a transport header and data) as one IPv4 datagram. 0, ENETUNREACH (no route),
  // EMSGSIZE (DF and too big), ENOBUFS, ENETDOWN, EADDRNOTAVAIL (source not ours).
  int ip_output(buf::MbufPtr payload, uint8_t protocol, Ipv4Address destination,
                const SendOptions& options);

  // ICMP echo for pkt ping. listen_echo: EBUSY if the identifier is taken.
  int listen_echo(uint16_t id, std::function<void(const EchoEvent&)> fn);
  void unlisten_echo(uint16_t id);
  int send_echo(Ipv4Address destination, uint16_t id, uint16_t sequence, size_t data_size,
                uint8_t ttl);

  // The source address a datagram to destination would leave with: 0, ENETUNREACH (no route)
  // or EADDRNOTAVAIL (the route's interface has no address).
  int source_for(Ipv4Address destination, Ipv4Address* source);

  // UDP
  UdpTable& udp() { return udp_table_; }
  // from.address 0: chosen from the route. options.source is ignored (from.address is it).
  int udp_output(UdpEndpoint from, UdpEndpoint to, std::span<const std::byte> data,
                 SendOptions options);
  int udp_output(UdpEndpoint from, UdpEndpoint to, std::span<const std::byte> data) {
    return udp_output(from, to, data, SendOptions{});
  }

  // TCP (transport/tcp): sockets bind, listen and connect through it.
  tcp::TcpLayer& tcp() { return *tcp_; }
  const tcp::TcpLayer& tcp() const { return *tcp_; }

  // Capture
  CaptureHub& captures() { return captures_; }
  uint64_t capture_start(uint32_t ifindex, uint32_t snaplen);

  const Counters& counters() const { return counters_; }
  ReassemblyStats reassembly_stats() const { return reassembly_.stats(); }
  size_t input_queue_length();

  // Runs the frames queued by the input handler (the posted drain does this; tests may too).
  void drain_input();
  // The periodic work: ARP retries and expiry, reassembly timeouts, idle captures.
  void slow_timer();

 private:
  void attached(net::Ifnet& ifp) override { attach(ifp); }
  void announce_one(net::Ifnet& ifp, Ipv4Address a);
  void destroying(net::Ifnet& ifp) override { detach(ifp); }
  struct Private;
  friend struct Private;
  Env& env_;
  net::Interfaces& interfaces_;
  StackConfig config_;
  Counters counters_;
  RouteTable routes_;
  ArpCache arp_;
  Reassembler reassembly_;
  UdpTable udp_table_;
  CaptureHub captures_;
  std::map<uint32_t, std::vector<IfAddress>> addresses_;
  std::map<uint16_t, std::function<void(const EchoEvent&)>> echo_listeners_;
  uint16_t next_ip_id_ = 1;
  bool lo_has_loopback_net_ = false;  // lo0 holds 127.0.0.1/8
  time::TimePoint duplicate_logged_{};  // the last "duplicate address" log line
  // ICMP error token bucket.
  double icmp_tokens_ = 0;
  time::TimePoint icmp_refilled_{};
  // Frames from drivers, waiting for the stack context (guarded by input_mutex_).
  std::mutex input_mutex_;
  buf::Mbuf* input_head_ = nullptr;
  buf::Mbuf* input_tail_ = nullptr;
  size_t input_len_ = 0;
  bool drain_posted_ = false;
  std::atomic<uint64_t> input_dropped_full_{0};
  // The shared state the posted drains see; reset to null when the stack goes.
  std::shared_ptr<Stack*> self_;
  time::Callout slow_callout_;
  bool slow_armed_ = false;
  std::atomic<bool> shutting_down_{false};
  class TcpGlue;
  std::unique_ptr<TcpGlue> tcp_glue_;
  std::unique_ptr<tcp::TcpLayer> tcp_;
  time::Callout tcp_callout_;
};

}  // namespace pktd::inet
