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

// --- start and stop ---

int SocketService::Impl::start(std::string* error) {
  path_ = ctl::socket_service_path(instance_);
  if (int err = ctl::open_listener(path_, &listen_fd_, error)) return err;
  spare_fd_ = open_spare();
  set_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (set_fd_ < 0 || !watch(listen_fd_, kListenerId)) {
    int err = errno;
    *error = std::string("socket service: epoll: ") + std::strerror(err);
    stop();
    return err;
  }
  buffer_.resize(sizeof(ctl::DgramHeader) + 65536);
  // Socket ids name the applications' ends in the abstract namespace, which every instance in
  // this network namespace shares: start them apart per process.
  next_id_ = (static_cast<uint64_t>(getpid()) << 24) + 2;
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
          {"sockets_open", sockets_.size()},
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
          {"errors_passed", c.errors_passed}};
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
      drain_socket(s->second);
    }  // else closed since it fired
  }
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
        if (dropped >= 0) close(dropped);
        spare_fd_ = open_spare();
        continue;
      }
      break;  // EAGAIN, or the client went before we took it
    }
    ucred cred{};
    socklen_t len = sizeof cred;
    uint64_t id = next_id_++;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || !watch(fd, id)) {
      close(fd);
      continue;
    }
    clients_[id] = ServiceClient{id, fd, cred.uid, cred.pid};
    ++counters_.clients_accepted;
  }
  rearm(listen_fd_, kListenerId);
}

namespace {

// Receives one request message with at most one fd. Returns the message size, 0 when the client
// hung up, -1 with errno, -2 when it carried more than one fd (all closed); *fd is -1 or the
// descriptor.
ssize_t receive_request(int sock, ctl::SvcRequest* q, int* fd) {
  *fd = -1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
  iovec iov{q, sizeof *q};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  ssize_t n = recvmsg(sock, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
  if (n < 0) return n;
  std::vector<int> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int got;
      std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
      fds.push_back(got);
    }
  }
  if (fds.size() > 1 || (m.msg_flags & MSG_CTRUNC) != 0) {  // one socket per request
    for (int f : fds) close(f);
    return -2;
  }
  if (!fds.empty()) *fd = fds[0];
  return n;
}

}  // namespace

void SocketService::Impl::serve_client(ServiceClient& c) {
  const uint64_t id = c.id;
  for (int i = 0; i < kRequestsPerTurn; ++i) {
    ctl::SvcRequest q;
    int fd = -1;
    ssize_t n = receive_request(c.fd, &q, &fd);
    if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
      close_client(id);
      return;
    }
    if (n == -1) break;  // nothing more for now
    ++counters_.requests;
    ctl::SvcReply r;
    int fd_to_pass = -1;
    if (n != static_cast<ssize_t>(sizeof q) || q.version != ctl::kSvcVersion) {
      ++counters_.bad_requests;
      r.op = q.op;
      r.seq = n >= static_cast<ssize_t>(sizeof q) ? q.seq : 0;
      r.result = -1;
      r.error = n == -2 ? EINVAL : EPROTO;
    } else {
      r = execute(c, q, fd, &fd_to_pass);
    }
    if (fd >= 0) close(fd);
    reply(c, r, fd_to_pass);
    if (fd_to_pass >= 0) close(fd_to_pass);
    if (!clients_.contains(id)) return;  // reply() dropped a client that does not read
  }
  rearm(c.fd, id);
}

void SocketService::Impl::reply(ServiceClient& c, const ctl::SvcReply& r, int fd_to_pass) {
  iovec iov{const_cast<ctl::SvcReply*>(&r), sizeof r};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (fd_to_pass >= 0) {
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    cmsghdr* cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cm), &fd_to_pass, sizeof(int));
  }
  // Never blocking: a client that lets its replies pile up is dropped (its sockets stay theirs).
  if (sendmsg(c.fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno == EAGAIN) {
    ++counters_.replies_dropped;
    PKTD_LOG_WARN("socket service: client pid %d does not read its replies; closing", c.pid);
    close_client(c.id);
  }
}

void SocketService::Impl::close_client(uint64_t id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  epoll_ctl(set_fd_, EPOLL_CTL_DEL, it->second.fd, nullptr);
  close(it->second.fd);
  clients_.erase(it);
}

}  // namespace pktd::sockets
