// UDP endpoints (RFC 768): who is bound to which address and port, and what waits to be read.
// The socket service (sockets/) hangs applications' sockets here, the control socket's test hooks
// their short-lived ones.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <sys/types.h>
#include <vector>

#include "wire/address.h"

namespace pktd::inet {

struct UdpEndpoint {
  wire::Ipv4Address address;  // 0: any
  uint16_t port = 0;
};

struct ReceivedDatagram {
  UdpEndpoint from;
  UdpEndpoint to;
  std::string data;
};

class UdpSocket {
 public:
  UdpEndpoint local;
  UdpEndpoint remote;  // port 0: not connected
  size_t receive_limit = 212992;  // octets queued, bookkeeping included (Linux's default rmem)
  static constexpr size_t kDatagramOverhead = sizeof(ReceivedDatagram) + 32;

  bool readable() const { return !queue_.empty(); }
  size_t queued_bytes() const { return queued_bytes_; }
  // False (counted by the caller) when the queue is full.
  bool deliver(ReceivedDatagram d);
  bool pop(ReceivedDatagram* out);
  // Told when a datagram arrives (the reader's wakeup).
  std::function<void()> on_readable;
  // When set, datagrams go straight here instead of the queue above (the socket service hands
  // them to the application's end); false when there is no room (counted as queue_full).
  std::function<bool(const UdpEndpoint& from, std::span<const std::byte> data)> sink;
  // Octets received but not yet read that are held elsewhere (the socket service's pair), for
  // netstat's Recv-Q.
  std::function<size_t()> held_elsewhere;
  // A hard ICMP error about a datagram this connected socket sent: ECONNREFUSED for port
  // unreachable (RFC 1122 4.1.3.3 passes them up; like Linux, only connected sockets hear them).
  std::function<void(int error)> on_error;

  // Bind rules of SO_REUSEADDR and SO_REUSEPORT (as Linux applies them to UDP): a port is shared
  // when every socket on it set SO_REUSEADDR, or every one set SO_REUSEPORT with one owner.
  bool reuse_address = false;
  bool reuse_port = false;
  uid_t owner = 0;

 private:
  std::deque<ReceivedDatagram> queue_;
  size_t queued_bytes_ = 0;
};

class UdpTable {
 public:
  // port 0 picks an ephemeral port. EADDRINUSE when taken (same port, overlapping address),
  // EAGAIN when no ephemeral port is free.
  int bind(const std::shared_ptr<UdpSocket>& s, UdpEndpoint local);
  void unbind(const std::shared_ptr<UdpSocket>& s);
  // The socket for a datagram to `to` from `from`: connected sockets first, then an exact
  // address, then the wildcard. Among equals, a SO_REUSEPORT group spreads senders by a hash of
  // their address; otherwise the socket bound last wins (as on Linux).
  std::shared_ptr<UdpSocket> lookup(UdpEndpoint to, UdpEndpoint from) const;
  // Every socket a broadcast to `to` from `from` reaches (RFC 1122 4.1.3.5 hands broadcasts to
  // all listeners of the port).
  std::vector<std::shared_ptr<UdpSocket>> lookup_all(UdpEndpoint to, UdpEndpoint from) const;
  // The connected socket that sent from `local` to `remote`, for ICMP errors quoting it.
  std::shared_ptr<UdpSocket> lookup_connected(UdpEndpoint local, UdpEndpoint remote) const;
  const std::vector<std::shared_ptr<UdpSocket>>& sockets() const { return sockets_; }

  // RFC 6335 dynamic range, as Linux's ip_local_port_range would be set to it.
  static constexpr uint16_t kEphemeralFirst = 49152;
  static constexpr uint16_t kEphemeralLast = 65535;

 private:
  bool conflicts(const UdpSocket& s, UdpEndpoint e) const;
  std::vector<std::shared_ptr<UdpSocket>> sockets_;
  uint16_t next_ephemeral_ = kEphemeralFirst;
};

}  // namespace pktd::inet
