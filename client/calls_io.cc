// Data: send, recv and their relatives. Datagram sockets go through dgram.h;
// streams are the pair's own bytes, so their data calls are the native ones
// (without addresses, which TCP ignores and a Unix stream socket would refuse).
#include <limits.h>
#include <signal.h>
#include <sys/socket.h>

#include <cstring>

#include "client/api.h"
#include "client/core.h"
#include "client/dgram.h"
#include "client/native.h"

using namespace pktd::client;

namespace {

// A listening stream's pair carries connections, not data.
bool refuse_data_on_listener(const SocketInfo& s, int error) {
  if (s.role != Role::listening) return false;
  errno = error;
  return true;
}

// pktd shut the pair's direction towards it: the connection ended, or the
// application shut its write side. Linux's tcp_sendmsg returns a pending error
// first (sk_stream_error: ECONNRESET after a reset, without SIGPIPE), else EPIPE
// with SIGPIPE unless MSG_NOSIGNAL. pktd gone: ENETDOWN.
ssize_t broken_pipe(int fd, const SocketInfo& s, int flags) {
  int error = pending_stream_error(fd, s);
  if (error < 0) return -1;
  if (error > 0) return fail(error);
  if ((flags & MSG_NOSIGNAL) == 0) raise(SIGPIPE);
  return fail(EPIPE);
}

ssize_t stream_send(int fd, const SocketInfo& s, const msghdr& msg, int flags) {
  if (refuse_data_on_listener(s, EPIPE)) return -1;
  msghdr bytes_only = msg;
  bytes_only.msg_name = nullptr;
  bytes_only.msg_namelen = 0;
  ssize_t n = native::sendmsg(fd, &bytes_only, flags | MSG_NOSIGNAL);
  if (n < 0 && errno == EPIPE) return broken_pipe(fd, s, flags);
  return n;
}

size_t iov_length(const msghdr& msg) {
  size_t total = 0;
  for (size_t i = 0; i < msg.msg_iovlen; ++i) total += msg.msg_iov[i].iov_len;
  return total;
}

// Like recvmsg on a TCP socket: no source address (msg_namelen 0). End of file
// is the connection's end; if it ended with an error (a reset, a timeout),
// Linux's recv returns that error once (sock_error) before it returns 0, and
// pktd holds it for SO_ERROR.
ssize_t stream_receive(int fd, const SocketInfo& s, msghdr* msg, int flags) {
  if (refuse_data_on_listener(s, ENOTCONN)) return -1;
  msghdr bytes_only = *msg;
  bytes_only.msg_name = nullptr;
  bytes_only.msg_namelen = 0;
  ssize_t n = native::recvmsg(fd, &bytes_only, flags);
  if (n == 0 && iov_length(*msg) > 0) {
    int error = pending_stream_error(fd, s);
    if (error != 0) return error < 0 ? -1 : fail(error);
  }
  if (n >= 0) {
    msg->msg_namelen = 0;
    msg->msg_controllen = bytes_only.msg_controllen;
    msg->msg_flags = bytes_only.msg_flags;
  }
  return n;
}

msghdr message_of(iovec* iov, size_t iovcnt) {
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = iovcnt;
  return msg;
}

// send, sendto, write, writev: the iov to `to` (or the peer).
ssize_t send_iov(int fd, const SocketInfo& s, const iovec* iov, size_t iovcnt, int flags,
                 const sockaddr* to, socklen_t tolen) {
  if (s.is_stream()) return stream_send(fd, s, message_of(const_cast<iovec*>(iov), iovcnt), flags);
  return dgram::send(fd, s, iov, iovcnt, flags, to, tolen);
}

// recv, recvfrom, read, readv.
ssize_t receive_iov(int fd, const SocketInfo& s, const iovec* iov, size_t iovcnt, int flags,
                    sockaddr* from, socklen_t* fromlen) {
  if (!s.is_stream()) return dgram::receive(fd, s, iov, iovcnt, flags, from, fromlen, nullptr);
  msghdr msg = message_of(const_cast<iovec*>(iov), iovcnt);
  ssize_t n = stream_receive(fd, s, &msg, flags);
  if (n >= 0 && from != nullptr && fromlen != nullptr) *fromlen = 0;
  return n;
}

bool bad_iov_count(int iovcnt) { return iovcnt < 0 || iovcnt > IOV_MAX; }

// Descriptors received over a Unix socket may be pktd sockets, whatever their
// numbers were before (a descriptor closed behind libpkt's back keeps its old
// entry): look at them afresh.
ssize_t forget_received_descriptors(ssize_t n, msghdr* msg) {
  if (n < 0 || msg == nullptr || msg->msg_control == nullptr) return n;
  for (cmsghdr* c = CMSG_FIRSTHDR(msg); c != nullptr; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      fd_table::forget(fd);
    }
  }
  return n;
}

}  // namespace

extern "C" {

ssize_t pkt_send(int fd, const void* buf, size_t len, int flags) {
  return dispatch(
      fd,
      [&](const SocketInfo& s) {
        iovec iov{const_cast<void*>(buf), len};
        return send_iov(fd, s, &iov, 1, flags, nullptr, 0);
      },
      [&] { return native::send(fd, buf, len, flags); });
}

ssize_t pkt_sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* dest,
                   socklen_t addrlen) {
  return dispatch(
      fd,
      [&](const SocketInfo& s) {
        iovec iov{const_cast<void*>(buf), len};
        return send_iov(fd, s, &iov, 1, flags, dest, addrlen);
      },
      [&] { return native::sendto(fd, buf, len, flags, dest, addrlen); });
}

ssize_t pkt_write(int fd, const void* buf, size_t len) {
  return dispatch(
      fd,
      [&](const SocketInfo& s) {
        iovec iov{const_cast<void*>(buf), len};
        return send_iov(fd, s, &iov, 1, 0, nullptr, 0);
      },
      [&] { return native::write(fd, buf, len); });
}

ssize_t pkt_writev(int fd, const iovec* iov, int iovcnt) {
  return dispatch(
      fd,
      [&](const SocketInfo& s) -> ssize_t {
        if (bad_iov_count(iovcnt)) return fail(EINVAL);
        return send_iov(fd, s, iov, static_cast<size_t>(iovcnt), 0, nullptr, 0);
      },
      [&] { return native::writev(fd, iov, iovcnt); });
}

ssize_t pkt_sendmsg(int fd, const msghdr* msg, int flags) {
  return dispatch(
      fd,
      [&](const SocketInfo& s) -> ssize_t {
        if (msg == nullptr) return fail(EFAULT);
        if (s.is_stream()) return stream_send(fd, s, *msg, flags);
        // Ancillary data (IP_PKTINFO, IP_TTL...) is not carried: see
        // docs/libpkt.md.
        const sockaddr* to =
            msg->msg_namelen > 0 ? static_cast<const sockaddr*>(msg->msg_name) : nullptr;
        return dgram::send(fd, s, msg->msg_iov, msg->msg_iovlen, flags, to, msg->msg_namelen);
      },
      [&] { return native::sendmsg(fd, msg, flags); });
}

ssize_t pkt_recv(int fd, void* buf, size_t len, int flags) {
  return dispatch(
      fd,
      [&](const SocketInfo& s) {
        iovec iov{buf, len};
        return receive_iov(fd, s, &iov, 1, flags, nullptr, nullptr);
      },
      [&] { return native::recv(fd, buf, len, flags); });
}

ssize_t pkt_recvfrom(int fd, void* buf, size_t len, int flags, sockaddr* src, socklen_t* addrlen) {
  return dispatch(
      fd,
      [&](const SocketInfo& s) {
        iovec iov{buf, len};
        return receive_iov(fd, s, &iov, 1, flags, src, addrlen);
      },
      [&] { return native::recvfrom(fd, buf, len, flags, src, addrlen); });
}

ssize_t pkt_read(int fd, void* buf, size_t len) {
  return dispatch(
      fd,
      [&](const SocketInfo& s) {
        iovec iov{buf, len};
        return receive_iov(fd, s, &iov, 1, 0, nullptr, nullptr);
      },
      [&] { return native::read(fd, buf, len); });
}

ssize_t pkt_readv(int fd, const iovec* iov, int iovcnt) {
  return dispatch(
      fd,
      [&](const SocketInfo& s) -> ssize_t {
        if (bad_iov_count(iovcnt)) return fail(EINVAL);
        return receive_iov(fd, s, iov, static_cast<size_t>(iovcnt), 0, nullptr, nullptr);
      },
      [&] { return native::readv(fd, iov, iovcnt); });
}

ssize_t pkt_recvmsg(int fd, msghdr* msg, int flags) {
  return dispatch(
      fd,
      [&](const SocketInfo& s) -> ssize_t {
        if (msg == nullptr) return fail(EFAULT);
        if (s.is_stream()) return stream_receive(fd, s, msg, flags);
        int msg_flags = 0;
        auto* from = static_cast<sockaddr*>(msg->msg_name);
        ssize_t n = dgram::receive(fd, s, msg->msg_iov, msg->msg_iovlen, flags, from,
                                   from != nullptr ? &msg->msg_namelen : nullptr, &msg_flags);
        if (n >= 0) {
          msg->msg_controllen = 0;  // no ancillary data
          msg->msg_flags = msg_flags;
        }
        return n;
      },
      [&] { return forget_received_descriptors(native::recvmsg(fd, msg, flags), msg); });
}

// Linux's recvmmsg blocks for every message unless MSG_WAITFORONE; that is
// kept. The timeout is not (Linux only looks at it between messages anyway).
int pktd_client_recvmmsg(int fd, mmsghdr* msgs, unsigned int n, int flags, timespec* timeout) {
  if (!fd_table::find(fd)) {
    int r = native::recvmmsg(fd, msgs, n, flags, timeout);
    for (int i = 0; i < r; ++i) forget_received_descriptors(0, &msgs[i].msg_hdr);
    return r;
  }
  unsigned int done = 0;
  int each = flags & ~MSG_WAITFORONE;
  for (; done < n; ++done) {
    ssize_t r = pkt_recvmsg(fd, &msgs[done].msg_hdr, each);
    if (r < 0) break;
    msgs[done].msg_len = static_cast<unsigned int>(r);
    if ((flags & MSG_WAITFORONE) != 0) each |= MSG_DONTWAIT;
  }
  return done > 0 || n == 0 ? static_cast<int>(done) : -1;
}

int pktd_client_sendmmsg(int fd, mmsghdr* msgs, unsigned int n, int flags) {
  if (!fd_table::find(fd)) return native::sendmmsg(fd, msgs, n, flags);
  unsigned int done = 0;
  for (; done < n; ++done) {
    ssize_t r = pkt_sendmsg(fd, &msgs[done].msg_hdr, flags);
    if (r < 0) break;
    msgs[done].msg_len = static_cast<unsigned int>(r);
  }
  return done > 0 || n == 0 ? static_cast<int>(done) : -1;
}

}  // extern "C"
