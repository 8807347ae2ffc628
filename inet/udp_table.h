// UDP endpoints (RFC 768): who is bound to which address and port, and what waits to be read.
// The socket service (issue 6) will hang its sockets here; for now the control socket's test
// hooks do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
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
  // address, then the wildcard.
  std::shared_ptr<UdpSocket> lookup(UdpEndpoint to, UdpEndpoint from) const;
  const std::vector<std::shared_ptr<UdpSocket>>& sockets() const { return sockets_; }

  // RFC 6335 dynamic range, as Linux's ip_local_port_range would be set to it.
  static constexpr uint16_t kEphemeralFirst = 49152;
  static constexpr uint16_t kEphemeralLast = 65535;

 private:
  bool in_use(UdpEndpoint e) const;
  std::vector<std::shared_ptr<UdpSocket>> sockets_;
  uint16_t next_ephemeral_ = kEphemeralFirst;
};

}  // namespace pktd::inet
