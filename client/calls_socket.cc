// Making sockets and the calls that are requests to pktd: socket, bind,
// connect, listen, accept, getsockname, getpeername, shutdown.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>

#include "client/address.h"
#include "client/api.h"
#include "client/core.h"
#include "client/native.h"
#include "client/service.h"

using namespace pktd::client;
using pktd::ctl::SvcAddress;
using pktd::ctl::SvcOp;
using pktd::ctl::SvcReply;
using pktd::ctl::SvcRequest;

namespace {

void* int_argument(int value) { return reinterpret_cast<void*>(static_cast<intptr_t>(value)); }

// SOCK_NONBLOCK and SOCK_CLOEXEC on a descriptor that arrived (by SCM_RIGHTS
// with MSG_CMSG_CLOEXEC) without the one and with the other.
int apply_descriptor_flags(int fd, int flags) {
  if ((flags & SOCK_NONBLOCK) != 0) {
    int fl = native::fcntl(fd, F_GETFL, nullptr);
    if (fl < 0 || native::fcntl(fd, F_SETFL, int_argument(fl | O_NONBLOCK)) < 0) return -1;
  }
  if ((flags & SOCK_CLOEXEC) == 0 && native::fcntl(fd, F_SETFD, int_argument(0)) < 0) return -1;
  return 0;
}

// What getsockopt(SO_PROTOCOL) says for protocol 0.
int protocol_of(int type, int protocol) {
  if (protocol != 0) return protocol;
  if (type == SOCK_DGRAM) return IPPROTO_UDP;
  if (type == SOCK_STREAM) return IPPROTO_TCP;
  return 0;
}

// Takes a descriptor pktd sent as the reply's or a message's SCM_RIGHTS into
// the table.
int adopt(int fd, int flags, const SocketInfo& s) {
  if (apply_descriptor_flags(fd, flags) != 0) {
    int error = errno;
    native::close(fd);
    return fail(error);
  }
  fd_table::remember(fd, s);
  return fd;
}

int request_socket(int domain, int type, int protocol) {
  int flags = type & (SOCK_NONBLOCK | SOCK_CLOEXEC);
  int base_type = type & ~flags;
  SvcRequest req;
  req.op = SvcOp::socket;
  req.args[0] = domain;
  req.args[1] = base_type;
  req.args[2] = protocol;
  SvcReply reply;
  int fd = -1;
  if (service::call(service::kDefault, req, -1, &reply, &fd) != 0) return -1;
  if (reply.result < 0) {
    if (fd >= 0) native::close(fd);
    return fail(reply.error > 0 ? reply.error : EIO);
  }
  if (fd < 0) return fail(EIO);
  SocketInfo s{domain, base_type, protocol_of(base_type, protocol), Role::unconnected,
               service::kDefault};
  return adopt(fd, flags, s);
}

// End of file on a listening stream's pair: pktd stopped listening
// (shutdown(SHUT_RD)), and accept fails with EINVAL as on Linux; or pktd has
// gone.
int listener_ended(int fd, const SocketInfo& s) {
  SvcRequest req;
  req.op = SvcOp::getsockopt;
  req.args[0] = SOL_SOCKET;
  req.args[1] = SO_ACCEPTCONN;
  req.args[2] = sizeof(int);
  return fail(ask(fd, s, req) < 0 ? ENETDOWN : EINVAL);
}

// A connection on a listening stream's pair: a message with the peer's
// SvcAddress and the new connection's descriptor (ctl/socket_protocol.h).
int receive_connection(int fd, const SocketInfo& s, SvcAddress* peer) {
  iovec iov{peer, sizeof *peer};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = native::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL);
  if (n < 0) return -1;
  if (n == 0) return listener_ended(fd, s);
  int conn = -1;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (c != nullptr && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
      c->cmsg_len >= CMSG_LEN(sizeof(int)))
    std::memcpy(&conn, CMSG_DATA(c), sizeof conn);
  if (static_cast<size_t>(n) != sizeof *peer || conn < 0) {
    if (conn >= 0) native::close(conn);
    return fail(EIO);
  }
  return conn;
}

int accept_connection(int fd, const SocketInfo& s, sockaddr* addr, socklen_t* len, int flags) {
  if ((flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) != 0) return fail(EINVAL);
  if (!s.is_stream()) return fail(EOPNOTSUPP);
  // An inherited socket whose role is unknown is taken to be listening (that is
  // why one inherits a socket and calls accept on it).
  if (s.role == Role::unconnected || s.role == Role::connected) return fail(EINVAL);
  if (addr != nullptr && len == nullptr) return fail(EFAULT);
  SvcAddress peer;
  int conn = receive_connection(fd, s, &peer);
  if (conn < 0) return -1;
  SocketInfo c = s;
  c.role = Role::connected;
  if (adopt(conn, flags, c) < 0) return -1;
  if (addr != nullptr) address_to_user(s, peer, addr, len);
  return conn;
}

bool is_blocking(int fd) {
  int fl = native::fcntl(fd, F_GETFL, nullptr);
  return fl >= 0 && (fl & O_NONBLOCK) == 0;
}

// A blocking connect waits for the handshake on a service connection of its
// own (service::call_waiting), not holding the one the process's other threads
// share; a non-blocking one is answered EINPROGRESS at once (pktd keeps the
// pair unwritable until the handshake is decided: docs/sockets.md).
int connect_stream(int fd, const SocketInfo& s, SvcRequest& req) {
  int result;
  if (req.addr.family != AF_UNSPEC && is_blocking(fd)) {
    timeval limit{};  // Linux's connect waits no longer than SO_SNDTIMEO
    socklen_t len = sizeof limit;
    if (native::getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, &len) != 0) limit = {};
    req.args[0] = 1;
    SvcReply reply;
    result = service::call_waiting(s.service, req, fd, &reply, limit) != 0 ? -1 : answer(fd, reply);
  } else {
    result = ask(fd, s, req);
  }
  int error = errno;
  // Past socket(): the connection is under way or made, and accept() refuses it.
  bool under_way = result >= 0 || error == EINPROGRESS || error == EALREADY || error == EISCONN ||
                   error == EINTR;
  if (req.addr.family == AF_UNSPEC) fd_table::set_role(fd, Role::unconnected);
  else if (under_way) fd_table::set_role(fd, Role::connected);
  errno = error;
  return result < 0 ? -1 : 0;
}

// getsockname and getpeername.
int ask_address(int fd, const SocketInfo& s, SvcOp op, sockaddr* addr, socklen_t* len) {
  if (addr == nullptr || len == nullptr) return fail(EFAULT);
  if (static_cast<int>(*len) < 0) return fail(EINVAL);
  SvcRequest req;
  req.op = op;
  SvcReply reply;
  if (ask(fd, s, req, &reply) < 0) return -1;
  address_to_user(s, reply.addr, addr, len);
  return 0;
}

// A new descriptor that libpkt did not make: nothing is known about it yet.
int forget_new(int fd) {
  if (fd >= 0) fd_table::forget(fd);
  return fd;
}

}  // namespace

extern "C" {

int pkt_socket(int domain, int type, int protocol) {
  if (domain != AF_INET && domain != AF_INET6)
    return forget_new(native::socket(domain, type, protocol));
  return request_socket(domain, type, protocol);
}

// Two new descriptors, whatever their numbers were before.
int pktd_client_socketpair(int domain, int type, int protocol, int fds[2]) {
  int r = native::socketpair(domain, type, protocol, fds);
  if (r == 0) {
    fd_table::forget(fds[0]);
    fd_table::forget(fds[1]);
  }
  return r;
}

int pkt_bind(int fd, const sockaddr* addr, socklen_t addrlen) {
  return dispatch(
      fd,
      [&](const SocketInfo& s) {
        SvcRequest req;
        req.op = SvcOp::bind;
        if (bind_address(s, addr, addrlen, &req.addr) != 0) return -1;
        return ask(fd, s, req) < 0 ? -1 : 0;
      },
      [&] { return native::bind(fd, addr, addrlen); });
}

int pkt_connect(int fd, const sockaddr* addr, socklen_t addrlen) {
  return dispatch(
      fd,
      [&](const SocketInfo& s) {
        SvcRequest req;
        req.op = SvcOp::connect;
        if (connect_address(s, addr, addrlen, &req.addr) != 0) return -1;
        if (s.is_stream()) return connect_stream(fd, s, req);
        if (ask(fd, s, req) < 0) return -1;
        fd_table::set_role(fd, req.addr.family != AF_UNSPEC ? Role::connected : Role::unconnected);
        return 0;
      },
      [&] { return native::connect(fd, addr, addrlen); });
}

int pkt_listen(int fd, int backlog) {
  return dispatch(
      fd,
      [&](const SocketInfo& s) {
        SvcRequest req;
        req.op = SvcOp::listen;
        req.args[0] = backlog;
        if (ask(fd, s, req) < 0) return -1;
        fd_table::set_role(fd, Role::listening);
        return 0;
      },
      [&] { return native::listen(fd, backlog); });
}

int pkt_accept4(int fd, sockaddr* addr, socklen_t* addrlen, int flags) {
  return dispatch(
      fd, [&](const SocketInfo& s) { return accept_connection(fd, s, addr, addrlen, flags); },
      [&] { return forget_new(native::accept4(fd, addr, addrlen, flags)); });
}

int pkt_accept(int fd, sockaddr* addr, socklen_t* addrlen) {
  return dispatch(
      fd, [&](const SocketInfo& s) { return accept_connection(fd, s, addr, addrlen, 0); },
      [&] { return forget_new(native::accept(fd, addr, addrlen)); });
}

int pkt_getsockname(int fd, sockaddr* addr, socklen_t* addrlen) {
  return dispatch(
      fd,
      [&](const SocketInfo& s) { return ask_address(fd, s, SvcOp::getsockname, addr, addrlen); },
      [&] { return native::getsockname(fd, addr, addrlen); });
}

int pkt_getpeername(int fd, sockaddr* addr, socklen_t* addrlen) {
  return dispatch(
      fd,
      [&](const SocketInfo& s) { return ask_address(fd, s, SvcOp::getpeername, addr, addrlen); },
      [&] { return native::getpeername(fd, addr, addrlen); });
}

int pkt_shutdown(int fd, int how) {
  return dispatch(
      fd,
      [&](const SocketInfo& s) {
        // Streams too: pktd decides what a shutdown means for the connection.
        SvcRequest req;
        req.op = SvcOp::shutdown;
        req.args[0] = how;
        return ask(fd, s, req) < 0 ? -1 : 0;
      },
      [&] { return native::shutdown(fd, how); });
}

int pkt_is_socket(int fd) { return fd_table::find(fd).has_value() ? 1 : 0; }

}  // extern "C"
