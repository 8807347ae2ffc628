// The control socket's server: one SOCK_SEQPACKET Unix socket per instance, requests run on
// pseudo-threads in the stack context (docs/pkt.md has the protocol).
//
// Execution model:
//  - The listening socket is an interrupt source; its process callback (a worker) accepts.
//  - Each connection is an interrupt source of its own, so a silent or hostile client never
//    blocks another. Its process callback reads one message, parses and checks it (outside the
//    stack context) and spawns a pseudo-thread that calls the Backend and sends the reply.
//  - One request at a time per connection: the runtime re-arms a source as soon as its enable
//    callback returns, so the source is not the connection's socket itself but a private epoll
//    set holding it one-shot. Reading a request disarms the socket in that set; the reply's
//    sender re-arms it. While a request runs, the next one waits in the kernel's socket buffer
//    and the client, not pktd, holds what it sent.
//  - A connection that ends is detached and closed from the stack context (rt.post), since a
//    source may not detach itself from its own process callback.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "ctl/backend.h"
#include "runtime/runtime.h"

namespace pktd::ctl {

class Server {
 public:
  // admin_group: members of this group may change the configuration, as root may.
  Server(rt::Runtime& rt, Backend& backend, std::string instance, std::optional<gid_t> admin_group);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds socket_path(instance) (mode 0666; a stale socket is replaced, a live one is not) and
  // starts accepting. The runtime must be started. 0, or an errno with *error saying why.
  int start(std::string* error);

  // Stops accepting, closes every connection and unlinks the socket. Then waits (10 s at most)
  // for requests in flight to finish, except in the stack context (it cannot wait for itself)
  // or when the runtime no longer runs (they never will). Idempotent.
  // Call it in the stack context or from a thread that is not a worker. From the main thread,
  // prefer after Runtime::stop(): a request in flight may wait for a blockop, which only the
  // main thread runs (Runtime::stop() serves them while it winds down). Destroy the server
  // before its runtime.
  void stop();

  const std::string& path() const { return path_; }
  // Open connections (for tests and diagnostics).
  size_t connections() const;

  struct State;  // shared with the callbacks and requests in flight (server_state.h)

 private:
  std::shared_ptr<State> state_;
  std::string path_;
  bool bound_ = false;
};

}  // namespace pktd::ctl
