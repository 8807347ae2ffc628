// The server's life (start, stop) and its listening socket.
#include "ctl/server.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "base/log.h"
#include "ctl/listen_socket.h"
#include "ctl/paths.h"
#include "ctl/peer.h"
#include "ctl/protocol.h"
#include "ctl/server_state.h"

namespace pktd::ctl {

namespace {

// Each connection costs two fds; a local user opening thousands must not starve the daemon.
constexpr size_t kMaxConnections = 256;
// Accepts per callback before letting other sources run (Process::again).
constexpr int kAcceptBatch = 32;
// How long stop() waits for requests in flight; they are short unless a backend misbehaves.
constexpr auto kStopPatience = std::chrono::seconds(10);

int open_spare() { return open("/dev/null", O_RDONLY | O_CLOEXEC); }

void close_fd(int* fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

// Tells the client why before closing: its first call reads this as the reply.
void turn_away(int fd, const Error& why) {
  std::string text = encode(make_error(why));
  [[maybe_unused]] ssize_t n = send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  close(fd);
}

}  // namespace

Server::Server(rt::Runtime& rt, Backend& backend, std::string instance,
               std::optional<gid_t> admin_group)
    : state_(std::make_shared<State>(rt, backend, admin_group)), path_(socket_path(instance)) {}

Server::~Server() { stop(); }

int Server::start(std::string* error) {
  State& s = *state_;
  if (bound_ || s.stopping.load()) {
    *error = "control server: start after start or stop";
    return EALREADY;
  }
  if (int err = open_listener(path_, &s.listen_fd, error)) return err;
  bound_ = true;
  s.spare_fd = open_spare();
  rt::InterruptSpec spec;
  spec.name = "ctl listen " + path_;
  spec.owner = "ctl";
  spec.fd = s.listen_fd;
  State* raw = &s;  // valid while attached: stop() detaches before the state can go
  spec.process = [raw] { return raw->accept_some(); };
  spec.enable = [] {};
  s.listener = s.rt.attach_interrupt(std::move(spec));
  if (s.listener == nullptr) {
    stop();
    *error = "control server: cannot watch " + path_ + " (the log says why)";
    return EIO;
  }
  PKTD_LOG_INFO("control socket %s", path_.c_str());
  return 0;
}

void Server::stop() {
  State& s = *state_;
  if (s.stopping.exchange(true)) return;
  if (s.listener != nullptr) s.rt.detach_interrupt(s.listener);  // no accept runs after this
  s.listener = nullptr;
  close_fd(&s.listen_fd);
  close_fd(&s.spare_fd);
  if (bound_) unlink(path_.c_str());
  std::map<const Connection*, std::shared_ptr<Connection>> all;
  {
    std::lock_guard lock(s.mutex);
    all.swap(s.connections);
  }
  for (auto& [key, conn] : all) {
    s.rt.detach_interrupt(conn->irq);
    s.drop(conn);  // closes the socket, unless a request in flight still holds it
  }
  if (rt::Runtime::current() != &s.rt || s.rt.in_stack_context()) return;
  std::unique_lock lock(s.mutex);
  if (!s.idle.wait_for(lock, kStopPatience, [&s] { return s.in_flight == 0; }))
    PKTD_LOG_ERR(
        "control server: %d requests still running after %lld s; the backend must "
        "outlive them",
        s.in_flight, static_cast<long long>(kStopPatience.count()));
}

size_t Server::connections() const {
  std::lock_guard lock(state_->mutex);
  return state_->connections.size();
}

// --- the listener: a worker, one at a time ---

rt::Process Server::State::accept_some() {
  for (int i = 0; i < kAcceptBatch; ++i) {
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      accept_one(fd);
    } else if (errno == EMFILE || errno == ENFILE) {
      drop_when_out_of_fds();
    } else if (errno != EINTR && errno != ECONNABORTED) {
      if (errno != EAGAIN) PKTD_LOG_WARN("control server: accept: %s", std::strerror(errno));
      return rt::Process::done;
    }
  }
  return rt::Process::again;  // more may wait: other sources get their turn first
}

// Out of fds, a pending connection would keep the listener ready and spin a worker. So the
// spare fd makes room to accept it and close it at once: that client sees its connection end.
void Server::State::drop_when_out_of_fds() {
  PKTD_LOG_WARN("control server: out of file descriptors; a client was turned away");
  close_fd(&spare_fd);
  int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd >= 0) close(fd);
  spare_fd = open_spare();
}

void Server::State::accept_one(int fd) {
  Caller caller;
  if (!read_peer(fd, policy, &caller)) {
    PKTD_LOG_WARN("control server: no peer credentials: %s", std::strerror(errno));
    close(fd);
    return;
  }
  bool full = false;
  {
    std::lock_guard lock(mutex);
    full = connections.size() >= kMaxConnections;
  }
  if (full) {
    turn_away(fd,
              {EUSERS, "too many control connections (" + std::to_string(kMaxConnections) + ")"});
    return;
  }
  int watch = epoll_create1(EPOLL_CLOEXEC);
  if (watch < 0) {
    turn_away(fd, {errno, std::string("cannot serve another client: ") + std::strerror(errno)});
    return;
  }
  auto conn = std::make_shared<Connection>(fd, watch, caller);
  rt::InterruptSpec spec;
  spec.name = "ctl client pid " + std::to_string(caller.pid);
  spec.owner = "ctl";
  spec.fd = watch;
  Connection* raw = conn.get();  // valid while attached: detach comes before the last release
  spec.process = [this, raw] { return serve(*raw); };
  spec.enable = [] {};
  rt::Interrupt* irq = rt.attach_interrupt(std::move(spec));
  if (irq == nullptr) return;  // logged by the runtime; conn closes both fds
  {
    std::lock_guard lock(mutex);
    conn->irq = irq;
    connections.emplace(raw, conn);
  }
  PKTD_LOG_DEBUG("control server: client pid %d uid %u connected%s", caller.pid,
                 static_cast<unsigned>(caller.uid), caller.privileged ? " (privileged)" : "");
  // The socket joins its private set last, so the source fires only once close_now can find it.
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLONESHOT;
  if (epoll_ctl(watch, EPOLL_CTL_ADD, fd, &ev) != 0) close_now(raw);
  drop(conn);  // from here a worker may serve it, and close it, before this returns
}

}  // namespace pktd::ctl
