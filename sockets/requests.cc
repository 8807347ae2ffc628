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
#include <sys/random.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
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

// The application's end is named so that libpkt can recognise it after exec (socket_protocol.h).
// The name identifies, it does not authorise (a request must carry the fd); it is random so
// that nobody can take the names of sockets to come (binding them first would make socket()
// fail). It also tells pktd when the application has let go of a stream (streams.cc). EADDRINUSE:
// taken, try another.
int name_app_end(int fd, AppSocket& s, const std::string& instance) {
  uint64_t token = 0;
  if (getrandom(&token, sizeof token, 0) != sizeof token) return EAGAIN;
  std::string name = std::string(ctl::kSocketNamePrefix) + std::to_string(s.family) + ":" +
                     std::to_string(s.type) + ":" + std::to_string(s.protocol) + ":" +
                     std::to_string(token) + ":" + instance;
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (name.size() + 1 > sizeof sun.sun_path) return ENAMETOOLONG;
  std::memcpy(sun.sun_path + 1, name.data(), name.size());  // sun_path[0] = 0: abstract
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sun), len) != 0) return errno;
  s.name = std::move(name);
  return 0;
}

constexpr int kDefaultReceiveBuffer = 212992;  // Linux's rmem_default, as SO_RCVBUF reports it

SvcReply failed(int error) {
  SvcReply r;
  r.result = -1;
  r.error = error;
  return r;
}

}  // namespace

// Linux lets a process bind ports below 1024 with CAP_NET_BIND_SERVICE in its effective set.
// The pid is the one the kernel put on the request.
bool may_bind_privileged_port(const Caller& who) {
  // The capability, not the uid: root without it (dropped, or after seteuid) may not. A pid of 0
  // is a sender pktd cannot see (another pid namespace): nothing to check, so no.
  if (who.pid <= 0) return false;
  FILE* f = std::fopen(("/proc/" + std::to_string(who.pid) + "/status").c_str(), "re");
  if (f == nullptr) return false;
  char line[256];
  unsigned long long effective = 0;
  bool found = false;
  while (!found && std::fgets(line, sizeof line, f) != nullptr)
    found = std::sscanf(line, "CapEff: %llx", &effective) == 1;
  std::fclose(f);
  constexpr int kCapNetBindService = 10;
  return found && (effective >> kCapNetBindService & 1) != 0;
}

AppSocket* SocketService::Impl::socket_of(int fd) {
  // Only a Unix socket can be one of ours; asking the socket layer first means that nothing a
  // client sends (a FUSE file, say) makes pktd call into a file system.
  int domain = 0;
  socklen_t len = sizeof domain;
  if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || domain != AF_UNIX)
    return nullptr;
  struct stat st{};
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return nullptr;
  auto it = by_app_end_.find({st.st_dev, st.st_ino});
  if (it == by_app_end_.end()) return nullptr;
  auto s = sockets_.find(it->second);
  return s == sockets_.end() ? nullptr : &s->second;
}

void SocketService::Impl::release_fd(int fd) {
  if (socket_of(fd) != nullptr) close(fd);
  else closer_.close_later(fd);
}

SvcReply SocketService::Impl::execute(const Caller& who, const SvcRequest& q, int fd, int* fd_to_pass) {
  SvcReply r;
  if (stack_ == nullptr) {
    r = failed(ENETDOWN);
  } else if (q.op == SvcOp::socket) {
    r = make_socket(who, q, fd_to_pass);
  } else if (AppSocket* s = socket_of(fd); s == nullptr) {
    r = failed(fd < 0 ? EBADF : ENOTSOCK);
  } else if (s->stream) {
    request_fd_ = fd;  // a connect writes its filler through it (stream_relay.h)
    r = execute_stream(*s, who, q);
    request_fd_ = -1;
  } else {
    // What the application sent before this request goes first (a send binds an unbound socket,
    // and the request must see that, as on Linux where sends are synchronous). A broken pair
    // closes the socket on the way: look it up again.
    drain_socket(*s, true);
    s = socket_of(fd);
    if (s == nullptr) {
      r = failed(ENOTSOCK);
      r.op = q.op;
      r.seq = q.seq;
      return r;
    }
    int err = 0;
    switch (q.op) {
      case SvcOp::bind: err = bind(*s, q.addr, who); break;
      case SvcOp::connect: err = q.addr.family == AF_UNSPEC ? disconnect(*s) : connect(*s, q.addr); break;
      case SvcOp::getsockname: r.addr = address_of(s->udp->local); break;
      case SvcOp::getpeername:
        if (s->udp->remote.port == 0) err = ENOTCONN;
        else r.addr = address_of(s->udp->remote);
        break;
      case SvcOp::setsockopt: err = set_option(*s, q); break;
      case SvcOp::getsockopt: err = get_option(*s, q, &r); break;
      case SvcOp::shutdown: err = shutdown(*s, q.args[0]); break;
      case SvcOp::listen: err = EOPNOTSUPP; break;
      default: err = EINVAL; break;
    }
    if (err != 0) r = failed(err);
  }
  r.op = q.op;
  r.seq = q.seq;
  return r;
}

SvcReply SocketService::Impl::make_socket(const Caller& who, const SvcRequest& q, int* fd_to_pass) {
  int family = q.args[0], type = q.args[1], protocol = q.args[2];
  if (family == AF_INET6) return failed(EAFNOSUPPORT);  // IPv6 comes with its own issue
  if (family != AF_INET) return failed(EAFNOSUPPORT);
  if (type != SOCK_DGRAM && type != SOCK_STREAM) return failed(ESOCKTNOSUPPORT);
  const int wanted = type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
  if (protocol != 0 && protocol != wanted) return failed(EPROTONOSUPPORT);
  if (uint32_t held = per_user_[who.uid]; held >= limits_.sockets_per_user) {
    ++counters_.refused_limit;
    PKTD_LOG_WARN("socket service: uid %u already holds %u sockets (the per-user limit); refused pid %d",
                  who.uid, held, who.pid);
    return failed(ENOBUFS);
  }
  int error = 0;
  AppSocket* s = new_socket(who, family, type, wanted, fd_to_pass, &error);
  if (s == nullptr) return failed(error);
  SvcReply r;
  r.result = static_cast<int32_t>(s->id & 0x7FFFFFFF);
  return r;
}

AppSocket* SocketService::Impl::new_socket(const Caller& who, int family, int type, int protocol,
                                           int* app_end, int* error) {
  int pair[2];
  // A stream's pair carries bytes without boundaries; a datagram socket's, messages.
  int kind = type == SOCK_STREAM ? SOCK_STREAM : SOCK_SEQPACKET;
  if (socketpair(AF_UNIX, kind | SOCK_CLOEXEC, 0, pair) != 0) {
    // pktd's own shortage, not the caller's: what Linux says when the system is out of files.
    PKTD_LOG_WARN("socket service: cannot make a socket: %s", std::strerror(errno));
    *error = errno == EMFILE || errno == ENFILE ? ENFILE : ENOBUFS;
    return nullptr;
  }
  fcntl(pair[0], F_SETFL, O_NONBLOCK);  // pktd's end never blocks
  AppSocket s;
  s.id = next_id_++;
  s.family = family;
  s.type = type;
  s.protocol = protocol;
  s.fd = pair[0];
  s.owner = who.uid;
  int named = EADDRINUSE;
  for (int tries = 0; tries < 8 && named == EADDRINUSE; ++tries) named = name_app_end(pair[1], s, instance_);
  struct stat st{};
  int buffer = kDefaultReceiveBuffer / 2;  // the kernel doubles it
  if (named != 0 || fstat(pair[1], &st) != 0 ||
      setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer) != 0 || !watch(pair[0], s.id)) {
    PKTD_LOG_WARN("socket service: cannot set up a socket: %s",
                  std::strerror(named != 0 ? named : errno));
    close(pair[0]);
    close(pair[1]);
    *error = ENOBUFS;
    return nullptr;
  }
  s.app_end = {st.st_dev, st.st_ino};
  uint64_t id = s.id;
  AppSocket& kept = sockets_[id] = std::move(s);
  by_app_end_[kept.app_end] = id;
  ++per_user_[who.uid];
  ++counters_.sockets_opened;
  *app_end = pair[1];
  if (type == SOCK_STREAM) init_stream(kept);
  else init_datagram(kept);
  return &kept;
}

void SocketService::Impl::init_datagram(AppSocket& s) {
  const uint64_t id = s.id;
  s.udp = std::make_shared<inet::UdpSocket>();
  s.udp->owner = s.owner;
  s.udp->sink = [this, id](const inet::UdpEndpoint& from, std::span<const std::byte> data) {
    auto it = sockets_.find(id);
    return it != sockets_.end() && pass_up(it->second, from, data);
  };
  s.udp->on_error = [this, id](int error) {
    if (auto it = sockets_.find(id); it != sockets_.end()) pass_error(it->second, error);
  };
  s.udp->held_elsewhere = [fd = s.fd]() -> size_t {
    int unread = 0;  // what the application has not read yet, bookkeeping included (as Linux)
    return ioctl(fd, SIOCOUTQ, &unread) == 0 && unread > 0 ? static_cast<size_t>(unread) : 0;
  };
}

// Hang-ups are noticed when the set reports them; a program that closes a socket and at once
// binds its port again must not lose that race, so a conflict first finishes the sockets on that
// port whose applications have all let go (what they sent before closing still goes out).
size_t SocketService::Impl::close_hung_up(uint16_t port) {
  std::vector<pollfd> fds;
  std::vector<uint64_t> ids;
  for (const auto& [id, s] : sockets_) {
    if (!s.bound || s.udp->local.port != port) continue;
    fds.push_back({s.fd, 0, 0});  // POLLHUP is always reported
    ids.push_back(id);
  }
  if (fds.empty() || poll(fds.data(), fds.size(), 0) <= 0) return 0;
  size_t closed = 0;
  for (size_t i = 0; i < fds.size(); ++i) {
    if ((fds[i].revents & POLLHUP) == 0) continue;
    if (auto it = sockets_.find(ids[i]); it != sockets_.end()) drain_socket(it->second, true);
    close_socket(ids[i]);  // if the drain has not (it closes at the end of file)
    ++closed;
  }
  return closed;
}

int SocketService::Impl::shutdown(AppSocket& s, int how) {
  if (how < SHUT_RD || how > SHUT_RDWR) return EINVAL;
  // SHUT_RD is done on the pair, so that the kernel gives the application Linux's behaviour: its
  // recv returns what is queued, then 0, and a recv blocked in another thread wakes. SHUT_WR is
  // pktd's alone: shutting the read side of pktd's end too would make the application's sends
  // fail with EPIPE, as on Linux, but it would also look like the application's close (both
  // sides of pktd's end shut: POLLHUP). So its sends are dropped and counted instead.
  if (how != SHUT_WR && !s.read_shut) {
    ::shutdown(s.fd, SHUT_WR);
    s.read_shut = true;
  }
  if (how != SHUT_RD) s.sends_discarded = true;
  // Linux answers ENOTCONN on an unconnected UDP socket, yet the shutdown has taken effect.
  return s.udp->remote.port == 0 ? ENOTCONN : 0;
}

int SocketService::Impl::table_bind(AppSocket& s, inet::UdpEndpoint local) {
  int err = stack_->udp().bind(s.udp, local);
  if (err == EADDRINUSE && close_hung_up(local.port) > 0) err = stack_->udp().bind(s.udp, local);
  if (err == EAGAIN) err = EADDRINUSE;  // Linux: no ephemeral port left
  if (err == 0) s.bound = true;
  return err;
}

int SocketService::Impl::bind(AppSocket& s, const SvcAddress& a, const Caller& who) {
  if (a.family != AF_INET) return EAFNOSUPPORT;
  if (s.bound) return EINVAL;  // already bound (explicitly, or by a send or connect)
  inet::UdpEndpoint local = endpoint_of(a);
  // Linux: ports below ip_unprivileged_port_start (1024) need CAP_NET_BIND_SERVICE.
  if (local.port != 0 && local.port < 1024 && !may_bind_privileged_port(who)) return EACCES;
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
  if (remote.address.value == 0) remote.address = {0x7F000001};  // Linux: INADDR_ANY means this host
  wire::Ipv4Address source;
  if (int err = stack_->source_for(remote.address, &source)) return err;
  if (is_broadcast(remote.address) && !s.options.broadcast) return EACCES;
  if (int err = bind_ephemeral(s)) return err;
  // As Linux: a socket not bound to an address takes the route's source for the association,
  // and keeps it when connected again elsewhere.
  if (s.udp->local.address.value == 0) s.udp->local.address = source;
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

void SocketService::Impl::uncount(AppSocket& s) {
  if (!s.counted) return;
  s.counted = false;
  by_app_end_.erase(s.app_end);
  if (auto u = per_user_.find(s.owner); u != per_user_.end() && --u->second == 0) per_user_.erase(u);
  if (!held_listeners_.empty()) retry_listeners_ = true;  // a listener held by the limit may go on
}

void SocketService::Impl::close_socket(uint64_t id) {
  auto it = sockets_.find(id);
  if (it == sockets_.end()) return;
  AppSocket& s = it->second;
  if (s.udp) {
    if (s.bound && stack_ != nullptr) stack_->udp().unbind(s.udp);
    s.udp->sink = nullptr;
    s.udp->on_error = nullptr;
    s.udp->held_elsewhere = nullptr;
  }
  if (s.stream) finish_stream(s, false);
  if (set_fd_ >= 0) epoll_ctl(set_fd_, EPOLL_CTL_DEL, s.fd, nullptr);
  closer_.close_later(s.fd);  // its queue may hold descriptors, which the close would close here
  uncount(s);
  sockets_.erase(it);
  ++counters_.sockets_closed;
}

}  // namespace pktd::sockets
