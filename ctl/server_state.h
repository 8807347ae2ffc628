// The server's insides (internal to ctl/): what its interrupt callbacks, posted closes and
// requests in flight share. Requests hold it by shared_ptr, so it outlives a Server destroyed
// while a job is still queued in a stopped runtime.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "ctl/requests.h"
#include "ctl/server.h"

namespace pktd::ctl {

// One client. The fds close with the last reference: a request in flight keeps them open.
struct Connection {
  Connection(int socket_fd, int watch_fd, const Caller& peer)
      : sock(socket_fd), watch(watch_fd), caller(peer) {}
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Lets the next request in: re-arms sock in the private set (readiness of that set is what
  // fires the interrupt source).
  void arm() const;

  const int sock;   // the accepted socket
  const int watch;  // a private epoll set holding sock one-shot: the interrupt source's fd
  const Caller caller;
  rt::Interrupt* irq = nullptr;  // under State::mutex
};

struct Server::State : std::enable_shared_from_this<State> {
  State(rt::Runtime& runtime, Backend& b, std::optional<gid_t> admin_group)
      : rt(runtime), backend(b), policy(admin_group) {}

  rt::Runtime& rt;
  Backend& backend;
  const AccessPolicy policy;
  std::string path;
  int listen_fd = -1;
  int spare_fd = -1;  // kept in reserve: closed to accept-and-drop when out of fds
  rt::Interrupt* listener = nullptr;
  std::atomic<bool> stopping{false};

  mutable std::mutex mutex;
  std::condition_variable idle;  // in_flight reached 0
  std::map<const Connection*, std::shared_ptr<Connection>> connections;
  int in_flight = 0;

  // --- the listener (server.cc) ---
  rt::Process accept_some();
  void accept_one(int fd);
  void drop_when_out_of_fds();

  // --- connections (connection.cc) ---
  rt::Process serve(Connection& c);
  void start_request(Connection& c, Request request);
  void request_done();
  // Sends a reply, then re-arms c, or closes it if the client does not read its replies.
  void answer(Connection& c, const nlohmann::json& reply);
  // Detaches and closes c: close_later from its own callback, close_now from anywhere else.
  void close_later(const Connection& c);
  void close_now(const Connection* c);
  // Drops a reference to a connection under the mutex, so that whichever drop is the last (and
  // closes the fds) comes after close_now's detach in an order ThreadSanitizer can see: the
  // reference count alone may be decremented in an uninstrumented copy of shared_ptr's code.
  void drop(std::shared_ptr<Connection>& conn);
};

}  // namespace pktd::ctl
