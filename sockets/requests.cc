// The service's requests: making sockets, naming them, connecting them. Errors are the errno a
// Linux program gets for the same call on a UDP socket (net/ipv4/af_inet.c and udp.c behave so).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "base/log.h"
#include "sockets/service_internal.h"

namespace pktd::sockets {

namespace {

using ctl::SvcAddress;
using ctl::SvcOp;
using ctl::SvcReply;
using ctl::SvcRequest;

bool is_multicast(wire::Ipv4Address a) { return (a.value >> 28) == 0xE; }

// The application's end is named so that libpkt can recognise it after exec (socket_protocol.h).
bool name_app_end(int fd, const AppSocket& s, const std::string& instance) {
  std::string name = std::string(ctl::kSocketNamePrefix) + std::to_string(s.family) + ":" +
                     std::to_string(s.type) + ":" + std::to_string(s.protocol) + ":" +
                     std::to_string(s.id) + ":" + instance;
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (name.size() + 1 > sizeof sun.sun_path) return false;
  std::memcpy(sun.sun_path + 1, name.data(), name.size());  // sun_path[0] = 0: abstract
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return ::bind(fd, reinterpret_cast<sockaddr*>(&sun), len) == 0;
}

SvcReply failed(int error) {
  SvcReply r;
  r.result = -1;
  r.error = error;
  return r;
}

}  // namespace

AppSocket* SocketService::Impl::socket_of(int fd) {
  struct stat st{};
  if (fd < 0 || fstat(fd, &st) != 0) return nullptr;
  auto it = by_inode_.find(st.st_ino);
  if (it == by_inode_.end()) return nullptr;
  auto s = sockets_.find(it->second);
  return s == sockets_.end() ? nullptr : &s->second;
}

SvcReply SocketService::Impl::execute(ServiceClient& c, const SvcRequest& q, int fd, int* fd_to_pass) {
  SvcReply r;
  if (stack_ == nullptr) {
    r = failed(ENETDOWN);
  } else if (q.op == SvcOp::socket) {
    r = make_socket(c, q, fd_to_pass);
  } else if (AppSocket* s = socket_of(fd); s == nullptr) {
    r = failed(fd < 0 ? EBADF : ENOTSOCK);
  } else {
    int err = 0;
    switch (q.op) {
      case SvcOp::bind: err = bind(*s, q.addr, c.uid); break;
      case SvcOp::connect: err = q.addr.family == AF_UNSPEC ? disconnect(*s) : connect(*s, q.addr); break;
      case SvcOp::getsockname: r.addr = address_of(s->udp->local); break;
      case SvcOp::getpeername:
        if (s->udp->remote.port == 0) err = ENOTCONN;
        else r.addr = address_of(s->udp->remote);
        break;
      case SvcOp::setsockopt: err = set_option(*s, q); break;
      case SvcOp::getsockopt: err = get_option(*s, q, &r); break;
      case SvcOp::shutdown:
        // UDP keeps no state to shut down; Linux accepts it only on a connected socket.
        if (q.args[0] < SHUT_RD || q.args[0] > SHUT_RDWR) err = EINVAL;
        else if (s->udp->remote.port == 0) err = ENOTCONN;
        break;
      case SvcOp::listen: err = EOPNOTSUPP; break;
      default: err = EINVAL; break;
    }
    if (err != 0) r = failed(err);
  }
  r.op = q.op;
  r.seq = q.seq;
  return r;
}

SvcReply SocketService::Impl::make_socket(ServiceClient& c, const SvcRequest& q, int* fd_to_pass) {
  int family = q.args[0], type = q.args[1], protocol = q.args[2];
  if (family == AF_INET6) return failed(EAFNOSUPPORT);  // IPv6 comes with its own issue
  if (family != AF_INET) return failed(EAFNOSUPPORT);
  if (type == SOCK_STREAM) return failed(EPROTONOSUPPORT);  // TCP: the next issue
  if (type != SOCK_DGRAM) return failed(ESOCKTNOSUPPORT);
  if (protocol != 0 && protocol != IPPROTO_UDP) return failed(EPROTONOSUPPORT);
  uint32_t& held = per_user_[c.uid];
  if (held >= limits_.sockets_per_user) {
    ++counters_.refused_limit;
    PKTD_LOG_WARN("socket service: uid %u already holds %u sockets (the per-user limit); refused pid %d",
                  c.uid, held, c.pid);
    return failed(ENOBUFS);
  }
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return failed(errno);
  fcntl(pair[0], F_SETFL, O_NONBLOCK);  // pktd's end never blocks
  AppSocket s;
  s.id = next_id_++;
  s.family = family;
  s.type = type;
  s.protocol = IPPROTO_UDP;
  s.fd = pair[0];
  s.owner = c.uid;
  s.udp = std::make_shared<inet::UdpSocket>();
  s.udp->owner = c.uid;
  struct stat st{};
  int buffer = static_cast<int>(s.options.receive_buffer / 2);
  if (!name_app_end(pair[1], s, instance_) || fstat(pair[1], &st) != 0 ||
      setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer) != 0 || !watch(pair[0], s.id)) {
    int err = errno;
    close(pair[0]);
    close(pair[1]);
    return failed(err != 0 ? err : EIO);
  }
  s.app_ino = st.st_ino;
  uint64_t id = s.id;
  AppSocket& kept = sockets_[id] = std::move(s);
  kept.udp->sink = [this, id](const inet::UdpEndpoint& from, std::span<const std::byte> data) {
    auto it = sockets_.find(id);
    return it != sockets_.end() && pass_up(it->second, from, data);
  };
  kept.udp->on_error = [this, id](int error) {
    if (auto it = sockets_.find(id); it != sockets_.end()) pass_error(it->second, error);
  };
  kept.udp->held_elsewhere = [fd = kept.fd]() -> size_t {
    int unread = 0;  // what the application has not read yet, bookkeeping included (as Linux)
    return ioctl(fd, SIOCOUTQ, &unread) == 0 && unread > 0 ? static_cast<size_t>(unread) : 0;
  };
  by_inode_[kept.app_ino] = id;
  ++held;
  ++counters_.sockets_opened;
  *fd_to_pass = pair[1];
  SvcReply r;
  r.result = static_cast<int32_t>(id & 0x7FFFFFFF);
  return r;
}

// Hang-ups are noticed when the set reports them; a program that closes a socket and at once
// binds its port again must not lose that race, so a conflict first closes the sockets whose
// applications have all let go.
size_t SocketService::Impl::close_hung_up() {
  std::vector<pollfd> fds;
  std::vector<uint64_t> ids;
  for (const auto& [id, s] : sockets_) {
    fds.push_back({s.fd, POLLRDHUP, 0});
    ids.push_back(id);
  }
  if (fds.empty() || poll(fds.data(), fds.size(), 0) <= 0) return 0;
  size_t closed = 0;
  for (size_t i = 0; i < fds.size(); ++i) {
    if ((fds[i].revents & (POLLHUP | POLLRDHUP)) == 0) continue;
    close_socket(ids[i]);
    ++closed;
  }
  return closed;
}

int SocketService::Impl::table_bind(AppSocket& s, inet::UdpEndpoint local) {
  int err = stack_->udp().bind(s.udp, local);
  if (err == EADDRINUSE && close_hung_up() > 0) err = stack_->udp().bind(s.udp, local);
  if (err == EAGAIN) err = EADDRINUSE;  // Linux: no ephemeral port left
  if (err == 0) s.bound = true;
  return err;
}

int SocketService::Impl::bind(AppSocket& s, const SvcAddress& a, uid_t caller) {
  if (a.family != AF_INET) return EAFNOSUPPORT;
  if (s.bound) return EINVAL;  // already bound (explicitly, or by a send or connect)
  inet::UdpEndpoint local = endpoint_of(a);
  // Linux: ports below ip_unprivileged_port_start (1024) need CAP_NET_BIND_SERVICE.
  if (local.port != 0 && local.port < 1024 && caller != 0) return EACCES;
  bool usable = local.address.value == 0 || stack_->is_local_address(local.address) ||
                is_multicast(local.address) || is_broadcast(local.address);
  if (!usable) return EADDRNOTAVAIL;
  int err = table_bind(s, local);
  if (err != 0) return err;
  s.address_chosen = local.address.value != 0;
  s.port_chosen = local.port != 0;
  return 0;
}

int SocketService::Impl::bind_ephemeral(AppSocket& s) {
  return s.bound ? 0 : table_bind(s, {{}, 0});
}

int SocketService::Impl::connect(AppSocket& s, const SvcAddress& a) {
  if (a.family != AF_INET) return EAFNOSUPPORT;
  inet::UdpEndpoint remote = endpoint_of(a);
  wire::Ipv4Address source;
  if (int err = stack_->source_for(remote.address, &source)) return err;
  if (is_broadcast(remote.address) && !s.options.broadcast) return EACCES;
  if (int err = bind_ephemeral(s)) return err;
  // As Linux: a socket not bound to an address takes the route's source for the association.
  if (!s.address_chosen) s.udp->local.address = source;
  s.udp->remote = remote;
  return 0;
}

int SocketService::Impl::disconnect(AppSocket& s) {
  s.udp->remote = {};
  if (!s.address_chosen) s.udp->local.address = {};
  if (s.bound && !s.port_chosen) {  // the port came with the association: it goes with it
    stack_->udp().unbind(s.udp);
    s.udp->local = {};
    s.bound = false;
  }
  return 0;
}

void SocketService::Impl::close_socket(uint64_t id) {
  auto it = sockets_.find(id);
  if (it == sockets_.end()) return;
  AppSocket& s = it->second;
  if (s.bound && stack_ != nullptr) stack_->udp().unbind(s.udp);
  s.udp->sink = nullptr;
  s.udp->on_error = nullptr;
  s.udp->held_elsewhere = nullptr;
  if (set_fd_ >= 0) epoll_ctl(set_fd_, EPOLL_CTL_DEL, s.fd, nullptr);
  close(s.fd);
  by_inode_.erase(s.app_ino);
  if (auto u = per_user_.find(s.owner); u != per_user_.end() && --u->second == 0) per_user_.erase(u);
  sockets_.erase(it);
  ++counters_.sockets_closed;
}

}  // namespace pktd::sockets
