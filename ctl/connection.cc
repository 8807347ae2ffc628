// One control connection: read a request, run it on a pseudo-thread, answer, re-arm.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "ctl/protocol.h"
#include "ctl/server_state.h"

namespace pktd::ctl {

using nlohmann::json;

namespace {

// Counts a request from spawn until its job is gone, whether it ran or not (a stopped runtime
// destroys queued jobs unrun). stop() waits for the count to reach 0. It also keeps the state
// alive for the job.
struct InFlight {
  explicit InFlight(std::shared_ptr<Server::State> s) : state(std::move(s)) {}
  ~InFlight() { state->request_done(); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  std::shared_ptr<Server::State> state;
};

// A request's hold on its connection, let go through State::drop however the job ends (run,
// thrown out of, or destroyed unrun by a stopped runtime).
struct ConnectionHold {
  ConnectionHold(std::shared_ptr<Server::State> s, std::shared_ptr<Connection> c)
      : state(std::move(s)), conn(std::move(c)) {}
  ConnectionHold(const ConnectionHold&) = default;  // std::function copies its callable
  ConnectionHold& operator=(const ConnectionHold&) = delete;
  ~ConnectionHold() {
    if (conn) state->drop(conn);
  }
  std::shared_ptr<Server::State> state;
  std::shared_ptr<Connection> conn;
};

}  // namespace

Connection::~Connection() {
  close(watch);
  close(sock);
}

void Connection::arm() const {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLONESHOT;
  if (epoll_ctl(watch, EPOLL_CTL_MOD, sock, &ev) != 0)
    PKTD_LOG_ERR("control server: cannot re-arm a connection: %s", std::strerror(errno));
}

// The connection's process callback (a worker, outside the stack context).
rt::Process Server::State::serve(Connection& c) {
  // Take the private set's event: its one-shot entry stays disarmed until answer() re-arms it,
  // so nothing more is read from this client while its request runs.
  epoll_event ev{};
  if (epoll_wait(c.watch, &ev, 1, 0) != 1) return rt::Process::done;  // nothing consumed: armed
  // One buffer byte more than allowed, and MSG_TRUNC to learn the real size of a larger one
  // (a SEQPACKET message longer than the buffer is cut and its rest discarded).
  std::string message(kMaxRequest + 1, '\0');
  ssize_t n = recv(c.sock, message.data(), message.size(), MSG_DONTWAIT | MSG_TRUNC);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    c.arm();
    return rt::Process::done;
  }
  if (n <= 0) {  // the client hung up (0), or its connection broke
    close_later(c);
    return rt::Process::done;
  }
  if (static_cast<size_t>(n) > kMaxRequest) {
    answer(c, make_error({EMSGSIZE, "request of " + std::to_string(n) +
                                        " bytes refused: the limit is " +
                                        std::to_string(kMaxRequest)}));
    return rt::Process::done;
  }
  message.resize(static_cast<size_t>(n));
  ParsedRequest p = parse_request(message);
  if (!p.error) p.error = policy.authorize(p.request, c.caller);
  if (p.error) {
    answer(c, make_error(p.error));  // no need to enter the stack context to refuse
    return rt::Process::done;
  }
  start_request(c, std::move(p.request));
  return rt::Process::done;
}

void Server::State::start_request(Connection& c, Request request) {
  std::shared_ptr<Connection> conn;
  {
    std::lock_guard lock(mutex);
    auto it = connections.find(&c);
    if (it == connections.end()) return;  // being closed: nobody is left to answer
    conn = it->second;
    ++in_flight;
  }
  auto token = std::make_shared<InFlight>(shared_from_this());
  std::string name = std::string("ctl ") + to_string(request.op);
  rt.spawn(
      [token, hold = ConnectionHold(shared_from_this(), std::move(conn)),
       request = std::move(request)] {
        State& s = *token->state;
        json reply = s.stopping.load() ? make_error({ESHUTDOWN, "pktd is shutting down"})
                                       : execute(s.backend, request);
        s.answer(*hold.conn, reply);
      },
      std::move(name));
}

void Server::State::request_done() {
  std::lock_guard lock(mutex);
  if (--in_flight == 0) idle.notify_all();
}

namespace {
// The largest reply pktd raises a connection's send buffer for (a listing of some 100,000
// connections); larger ones are refused with EMSGSIZE.
constexpr size_t kLargestReply = 16 << 20;
}  // namespace

void Server::State::answer(Connection& c, const json& reply) {
  std::string text = encode(reply);
  // Never blocking: this is a worker or the stack context, and the client may not be reading.
  ssize_t n = send(c.sock, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < 0 && errno == EMSGSIZE && text.size() <= kLargestReply) {
    // A large listing (netstat -an with thousands of TIME-WAIT connections): one message is
    // bounded by the socket's send buffer, which pktd (root) may raise for this connection.
    int wanted = static_cast<int>(2 * text.size() + 65536);
    if (setsockopt(c.sock, SOL_SOCKET, SO_SNDBUFFORCE, &wanted, sizeof wanted) == 0)
      n = send(c.sock, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  if (n < 0 && errno == EMSGSIZE) {
    text = encode(make_error({EMSGSIZE, "the reply (" + std::to_string(text.size()) +
                                            " bytes) is too large for the control socket"}));
    n = send(c.sock, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  if (n < 0 && errno == EAGAIN) {
    // Its earlier replies fill the socket: a client that does not read is dropped.
    PKTD_LOG_WARN("control server: client pid %d does not read its replies; closing", c.caller.pid);
    close_later(c);
    return;
  }
  // Sent, or the client is gone (EPIPE): re-arming lets its hang-up be seen and closed.
  c.arm();
}

void Server::State::close_later(const Connection& c) {
  std::weak_ptr<Connection> weak;
  {
    std::lock_guard lock(mutex);
    auto it = connections.find(&c);
    if (it == connections.end()) return;
    weak = it->second;
  }
  // By weak_ptr: if the connection is gone by then, its address may belong to a new one.
  rt.post(
      [self = shared_from_this(), weak] {
        if (auto conn = weak.lock()) {
          self->close_now(conn.get());
          self->drop(conn);
        }
      },
      "ctl close");
}

void Server::State::close_now(const Connection* c) {
  std::shared_ptr<Connection> conn;
  {
    std::lock_guard lock(mutex);
    auto it = connections.find(c);
    if (it == connections.end()) return;
    conn = std::move(it->second);
    connections.erase(it);
  }
  rt.detach_interrupt(conn->irq);
  PKTD_LOG_DEBUG("control server: client pid %d disconnected", conn->caller.pid);
  drop(conn);  // the last reference closes the fds (a request in flight may still hold one)
}

void Server::State::drop(std::shared_ptr<Connection>& conn) {
  std::lock_guard lock(mutex);
  conn.reset();
}

}  // namespace pktd::ctl
