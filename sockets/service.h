// The socket service: applications' Internet sockets, held in pktd and served to libpkt.
//
// Each application socket is a real fd in the application: one end of a Unix socketpair whose
// other end pktd holds, so poll, epoll, select, fork, dup and exec work on it untouched. Calls
// that name addresses or options come as requests on a per-process service connection, each
// carrying the socket's fd (holding it is the right to use it). docs/sockets.md tells the whole
// design; ctl/socket_protocol.h is the wire format.
//
// Execution model: the listening socket, every service connection and pktd's end of every
// socket sit one-shot in a private epoll set, and that set is one interrupt source. Its process
// callback (a worker) collects what is ready and posts one batch to the stack context, which
// accepts, answers requests, moves datagrams and re-arms each entry it has drained. Nothing here
// sleeps: a request is answered before the next is read.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "inet/stack.h"
#include "runtime/runtime.h"

namespace pktd::tcp {
class Connection;
}

namespace pktd::sockets {

struct ServiceLimits {
  // Sockets one user (uid) may hold at once; past it, socket() fails with ENOBUFS (logged).
  uint32_t sockets_per_user = 4096;
  // Service connections (client processes) one user may hold at once; past it, pktd closes
  // the new connection (libpkt: ENETDOWN) and logs it.
  uint32_t connections_per_user = 1024;
};

class SocketService {
 public:
  SocketService(rt::Runtime& rt, std::string instance, ServiceLimits limits = {});
  ~SocketService();
  SocketService(const SocketService&) = delete;
  SocketService& operator=(const SocketService&) = delete;

  // Binds socket_service_path(instance) (mode 0666) and serves. The runtime must be started.
  // 0, or an errno with *error saying why.
  int start(std::string* error);
  // Stack context. Which stack sockets use; nullptr (shutdown) makes new requests fail ENETDOWN.
  void set_stack(inet::Stack* stack);
  // Stack context. Closes every connection and socket (applications see end of file and get
  // ENETDOWN) and unlinks the path. Idempotent.
  void stop();

  const std::string& path() const;
  // Counters for netstat -s ("sockets" group), and how many sockets are open. Stack context.
  std::map<std::string, uint64_t> statistics() const;
  size_t socket_count() const;
  // What a TCP connection's socket holds in its pair (netstat's queues): octets towards the
  // application it has not read, and octets it wrote that pktd has not taken. Zeros for a
  // connection no application holds. Stack context.
  std::pair<size_t, size_t> stream_queues(const tcp::Connection& c) const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace pktd::sockets
