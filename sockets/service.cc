// The socket service's life, its private epoll set, and the service connections' messages.
#include "sockets/service.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "base/log.h"
#include "ctl/listen_socket.h"
#include "ctl/paths.h"
#include "sockets/service_internal.h"

namespace pktd::sockets {

namespace {

constexpr int kReadyPerBatch = 128;
constexpr int kRequestsPerTurn = 16;  // then the client waits its turn (fairness)

int open_spare() { return open("/dev/null", O_RDONLY | O_CLOEXEC); }

}  // namespace

// --- SocketService: the public face ---

SocketService::SocketService(rt::Runtime& rt, std::string instance, ServiceLimits limits)
    : impl_(std::make_unique<Impl>(rt, std::move(instance), limits)) {}

SocketService::~SocketService() { impl_->stop(); }

int SocketService::start(std::string* error) { return impl_->start(error); }
void SocketService::set_stack(inet::Stack* stack) { impl_->set_stack(stack); }
void SocketService::stop() { impl_->stop(); }
const std::string& SocketService::path() const { return impl_->path(); }
std::map<std::string, uint64_t> SocketService::statistics() const { return impl_->statistics(); }
size_t SocketService::socket_count() const { return impl_->socket_count(); }
std::pair<size_t, size_t> SocketService::stream_queues(const tcp::Connection& c) const {
  return impl_->pair_queues(&c);
}

// --- start and stop ---

int SocketService::Impl::start(std::string* error) {
  path_ = ctl::socket_service_path(instance_);
  if (int err = ctl::open_listener(path_, &listen_fd_, error)) return err;
  spare_fd_ = open_spare();
  // Every request carries its sender's credentials. Set on the listener, the flag is inherited
  // by each connection as accept makes it, so no request arrives without them.
  int on = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
  set_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (set_fd_ < 0 || !watch(listen_fd_, kListenerId)) {
    int err = errno;
    *error = std::string("socket service: epoll: ") + std::strerror(err);
    stop();
    return err;
  }
  buffer_.resize(sizeof(ctl::DgramHeader) + 65536);
  rt::InterruptSpec spec;
  spec.name = "socket service";
  spec.owner = "pktd";
  spec.fd = set_fd_;
  spec.process = [this] { return collect_ready(); };
  spec.enable = [] {};
  irq_ = rt_.attach_interrupt(std::move(spec));
  if (irq_ == nullptr) {
    *error = "socket service: cannot attach its interrupt source";
    stop();
    return EIO;
  }
  PKTD_LOG_INFO("socket service on %s", path_.c_str());
  return 0;
}

void SocketService::Impl::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (irq_ != nullptr) rt_.detach_interrupt(irq_);
  irq_ = nullptr;
  std::vector<uint64_t> ids;
  for (const auto& [id, s] : sockets_) ids.push_back(id);
  // The stack outlives the service: its connections are reset, as a host going down would leave
  // them, and TCP's events no longer come here.
  for (uint64_t id : ids)
    if (auto it = sockets_.find(id); it != sockets_.end() && it->second.stream) finish_stream(it->second, true);
  set_stack(nullptr);
  for (uint64_t id : ids) close_socket(id);
  ids.clear();
  for (const auto& [id, c] : clients_) ids.push_back(id);
  for (uint64_t id : ids) close_client(id);
  for (int* fd : {&listen_fd_, &spare_fd_, &set_fd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
  if (!path_.empty()) unlink(path_.c_str());
}

std::map<std::string, uint64_t> SocketService::Impl::statistics() const {
  const Counters& c = counters_;
  return {{"clients_accepted", c.clients_accepted},
          {"clients_open", clients_.size()},
          {"requests", c.requests},
          {"bad_requests", c.bad_requests},
          {"replies_dropped", c.replies_dropped},
          {"sockets_open", sockets_.size() - orphans_open()},
          {"orphans_open", orphans_open()},
          {"sockets_opened", c.sockets_opened},
          {"sockets_closed", c.sockets_closed},
          {"refused_per_user_limit", c.refused_limit},
          {"datagrams_sent", c.datagrams_sent},
          {"datagrams_received", c.datagrams_received},
          {"send_failed", c.send_failed},
          {"send_broadcast_refused", c.send_broadcast_refused},
          {"send_no_destination", c.send_no_destination},
          {"bad_messages", c.bad_messages},
          {"receive_buffer_full", c.receive_buffer_full},
          {"errors_passed", c.errors_passed},
          {"dropped_after_shutdown", c.dropped_after_shutdown},
          {"descriptors_refused", c.descriptors_refused},
          {"errors_dropped", c.errors_dropped},
          {"connects_waited", c.connects_waited},
          {"connections_accepted", c.connections_accepted},
          {"accepts_failed", c.accepts_failed},
          {"handoffs_deferred", c.handoffs_deferred},
          {"accepts_held_by_limit", c.accepts_held_by_limit},
          {"closes_reset", c.closes_reset},
          {"orphans", c.orphans},
          {"octets_discarded_after_shutdown", c.octets_discarded_after_shutdown},
          {"octets_discarded_before_connect", c.octets_discarded_before_connect},
          {"handshake_holds_failed", c.handshake_holds_failed}};
}

// --- the private set ---

bool SocketService::Impl::watch(int fd, uint64_t id) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
  ev.data.u64 = id;
  return epoll_ctl(set_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

void SocketService::Impl::rearm(int fd, uint64_t id) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
  ev.data.u64 = id;
  if (epoll_ctl(set_fd_, EPOLL_CTL_MOD, fd, &ev) != 0)
    PKTD_LOG_ERR("socket service: cannot re-arm an fd: %s", std::strerror(errno));
}

void SocketService::Impl::set_events(int fd, uint64_t id, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = id;
  if (epoll_ctl(set_fd_, EPOLL_CTL_MOD, fd, &ev) != 0)
    PKTD_LOG_ERR("socket service: cannot re-arm an fd: %s", std::strerror(errno));
}

// A worker, outside the stack context: take what is ready (each entry is one-shot, so it stays
// disarmed until its handler re-arms it) and hand it to the stack context in one post.
rt::Process SocketService::Impl::collect_ready() {
  epoll_event events[kReadyPerBatch];
  int n = epoll_wait(set_fd_, events, kReadyPerBatch, 0);
  if (n <= 0) return rt::Process::done;
  std::vector<uint64_t> ids(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = events[i].data.u64;
  rt_.post([this, ids = std::move(ids)] { handle_ready(ids); }, "socket service");
  return n == kReadyPerBatch ? rt::Process::again : rt::Process::done;
}

void SocketService::Impl::handle_ready(const std::vector<uint64_t>& ids) {
  if (stopped_) return;
  for (uint64_t id : ids) {
    if (id == kListenerId) {
      accept_clients();
    } else if (auto c = clients_.find(id); c != clients_.end()) {
      serve_client(c->second);
    } else if (auto s = sockets_.find(id); s != sockets_.end()) {
      if (s->second.stream) stream_ready(s->second);
      else drain_socket(s->second);
    }  // else closed since it fired
  }
  if (retry_listeners_) retry_limited_listeners();
}

// --- service connections ---

void SocketService::Impl::accept_clients() {
  for (int i = 0; i < 64; ++i) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if ((errno == EMFILE || errno == ENFILE) && spare_fd_ >= 0) {
        // Out of fds: take the connection with the spare fd and drop it, so that the client
        // sees its connection closed instead of waiting, and the listener does not spin.
        PKTD_LOG_WARN("socket service: out of file descriptors; refusing a client");
        close(spare_fd_);
        int dropped = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (dropped >= 0) closer_.close_later(dropped);
        spare_fd_ = open_spare();
        continue;
      }
      break;  // EAGAIN, or the client went before we took it
    }
    ucred cred{};
    socklen_t len = sizeof cred;
    int on = 1;
    uint64_t id = next_id_++;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0) {
      closer_.close_later(fd);  // requests already queued may carry descriptors
      continue;
    }
    uint32_t& connected = connections_per_user_[cred.uid];
    if (connected >= limits_.connections_per_user) {
      ++counters_.refused_limit;
      PKTD_LOG_WARN("socket service: uid %u already has %u service connections (the per-user limit); "
                    "refused pid %d", cred.uid, connected, cred.pid);
      closer_.close_later(fd);  // requests already queued may carry descriptors
      continue;
    }
    if (!watch(fd, id)) {
      closer_.close_later(fd);  // requests already queued may carry descriptors
      continue;
    }
    ++connected;
    clients_[id] = ServiceClient{id, fd, cred.uid, cred.pid};
    ++counters_.clients_accepted;
  }
  rearm(listen_fd_, kListenerId);
}

void SocketService::Impl::serve_client(ServiceClient& c) {
  const uint64_t id = c.id;
  for (int i = 0; i < kRequestsPerTurn; ++i) {
    ctl::SvcRequest q;
    ReceivedRequest got = receive_request(c.fd, &q);
    if (got.size < 0 && (errno == EAGAIN || errno == EINTR)) break;  // nothing more for now
    if (got.size <= 0) {  // hung up (0), or the connection broke
      for (int fd : got.fds) release_fd(fd);
      close_client(id);
      return;
    }
    ++counters_.requests;
    ctl::SvcReply r;
    int fd_to_pass = -1;
    if (got.size != static_cast<ssize_t>(sizeof q) || q.version != ctl::kSvcVersion ||
        got.too_many_fds) {
      ++counters_.bad_requests;
      r.op = q.op;
      r.seq = got.size >= static_cast<ssize_t>(sizeof q) ? q.seq : 0;
      r.result = -1;
      r.error = got.too_many_fds ? EINVAL : EPROTO;  // one socket per request
    } else {
      // The credentials of this message (the kernel vouches for them), not those of the process
      // that connected: a process that dropped privileges since must not keep them.
      // With SO_PASSCRED on, the kernel attaches them to every message; pid 0 means a sender in
      // a pid namespace pktd cannot see (its uid still holds).
      Caller who{got.sender ? got.sender->uid : c.uid, got.sender ? got.sender->pid : 0};
      serving_client_ = id;
      r = execute(who, q, got.fds.empty() ? -1 : got.fds[0], &fd_to_pass);
      serving_client_ = 0;
    }
    for (int fd : got.fds) release_fd(fd);
    if (reply_deferred_) {
      // A blocking connect: the reply goes when the handshake is decided (streams.cc), and this
      // client's next requests wait for it (its entry stays disarmed until then).
      reply_deferred_ = false;
      return;
    }
    if (!send_reply(c.fd, r, fd_to_pass)) {
      ++counters_.replies_dropped;
      PKTD_LOG_WARN("socket service: client pid %d does not read its replies; closing", c.pid);
      close_client(id);
    }
    if (fd_to_pass >= 0) close(fd_to_pass);
    if (!clients_.contains(id)) return;
  }
  rearm(c.fd, id);
}

void SocketService::Impl::close_client(uint64_t id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  epoll_ctl(set_fd_, EPOLL_CTL_DEL, it->second.fd, nullptr);
  closer_.close_later(it->second.fd);  // requests still queued may carry descriptors
  if (auto u = connections_per_user_.find(it->second.uid);
      u != connections_per_user_.end() && --u->second == 0)
    connections_per_user_.erase(u);
  clients_.erase(it);
}

}  // namespace pktd::sockets
