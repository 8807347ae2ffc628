#include "client/dgram.h"

#include <fcntl.h>
#include <limits.h>

#include <cstring>

#include "client/address.h"
#include "client/core.h"
#include "client/native.h"
#include "ctl/socket_protocol.h"

namespace pktd::client::dgram {

namespace {

using ctl::DgramHeader;
using ctl::DgramKind;

constexpr size_t kMaxIov = IOV_MAX;
constexpr size_t kHeader = sizeof(DgramHeader);
constexpr size_t kMaxUdpLength = 65535;  // what fits in UDP's length field, checked first

// The iov with the header in front; lives on the caller's stack.
struct Framed {
  iovec v[kMaxIov + 1];
  msghdr msg{};
  Framed(DgramHeader* h, const iovec* iov, size_t iovcnt) {
    v[0] = {h, kHeader};
    if (iovcnt > 0) std::memcpy(&v[1], iov, iovcnt * sizeof(iovec));
    msg.msg_iov = v;
    msg.msg_iovlen = iovcnt + 1;
  }
};

// The iov's total length, or -1 (EINVAL) if it does not fit an ssize_t.
ssize_t total_length(const iovec* iov, size_t iovcnt) {
  size_t total = 0;
  for (size_t i = 0; i < iovcnt; ++i) {
    if (iov[i].iov_len > static_cast<size_t>(SSIZE_MAX) - total) return fail(EINVAL);
    total += iov[i].iov_len;
  }
  return static_cast<ssize_t>(total);
}

// pktd's end closed: the application sees the network as down, not a broken
// pipe.
bool pktd_gone(int error) { return error == EPIPE || error == ECONNRESET || error == ENOTCONN; }

// The pair read end of file or refused a send. pktd does that for a
// shutdown (SHUT_RD shuts its end's write side, SHUT_WR its read side) and
// when it has gone; whether it still answers about the socket tells which
// (within the service's timeout). errno is kept.
bool pktd_answers(int fd, const SocketInfo& s) {
  int saved = errno;
  ctl::SvcRequest req;
  req.op = ctl::SvcOp::getsockname;
  bool answered = ask(fd, s, req) >= 0;
  errno = saved;
  return answered;
}

bool nonblocking(int fd, int flags) {
  if ((flags & MSG_DONTWAIT) != 0) return true;
  int fl = native::fcntl(fd, F_GETFL, nullptr);
  return fl >= 0 && (fl & O_NONBLOCK) != 0;
}

}  // namespace

ssize_t send(int fd, SocketInfo s, const iovec* iov, size_t iovcnt, int flags, const sockaddr* to,
             socklen_t tolen) {
  if ((flags & MSG_OOB) != 0) return fail(EOPNOTSUPP);
  if (iovcnt > kMaxIov) return fail(EMSGSIZE);
  ssize_t total = total_length(iov, iovcnt);
  if (total < 0) return -1;
  if (static_cast<size_t>(total) > kMaxUdpLength) return fail(EMSGSIZE);
  DgramHeader h;
  h.kind = DgramKind::data;
  if (to != nullptr) {
    if (destination_address(s, to, tolen, &h.addr) != 0) return -1;
  } else {
    int connected = is_connected(fd, &s);
    if (connected < 0) return -1;
    if (connected == 0) return fail(EDESTADDRREQ);
  }
  if (static_cast<size_t>(total) > ctl::kMaxUdpPayload) return fail(EMSGSIZE);
  Framed framed(&h, iov, iovcnt);
  // UDP never raises SIGPIPE (not even after SHUT_WR); only the caller's
  // MSG_DONTWAIT means anything to the pair.
  ssize_t n = native::sendmsg(fd, &framed.msg, MSG_NOSIGNAL | (flags & MSG_DONTWAIT));
  if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
    return fail(pktd_answers(fd, s) ? EPIPE : ENETDOWN);  // after SHUT_WR, as UDP
  if (n < 0) return pktd_gone(errno) ? fail(ENETDOWN) : -1;
  if (static_cast<size_t>(n) < kHeader) return fail(EIO);
  return n - static_cast<ssize_t>(kHeader);
}

ssize_t receive(int fd, const SocketInfo& s, const iovec* iov, size_t iovcnt, int flags,
                sockaddr* from, socklen_t* fromlen, int* msg_flags) {
  if ((flags & MSG_ERRQUEUE) != 0) return fail(EAGAIN);  // no error queue
  if (iovcnt > kMaxIov) return fail(EMSGSIZE);
  if (from != nullptr && fromlen == nullptr) return fail(EFAULT);
  DgramHeader h;
  Framed framed(&h, iov, iovcnt);
  // MSG_TRUNC makes a SOCK_SEQPACKET pair return the message's full length,
  // like UDP.
  ssize_t n = native::recvmsg(fd, &framed.msg, flags & (MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC));
  if (n < 0) return pktd_gone(errno) ? fail(ENETDOWN) : -1;
  if (n == 0) {
    // End of file. After SHUT_RD a UDP socket's queue, once empty, reads 0
    // in a blocking call and EAGAIN in a non-blocking one.
    if (!pktd_answers(fd, s)) return fail(ENETDOWN);
    if (nonblocking(fd, flags)) return fail(EAGAIN);
    if (from != nullptr) *fromlen = 0;
    if (msg_flags != nullptr) *msg_flags = 0;
    return 0;
  }
  if (static_cast<size_t>(n) < kHeader) return fail(EIO);
  if (h.kind == DgramKind::error) {
    if ((flags & MSG_PEEK) != 0) native::recv(fd, &h, kHeader, MSG_DONTWAIT);  // reported once
    return fail(h.error > 0 ? h.error : EIO);
  }
  if (h.kind != DgramKind::data) return fail(EIO);
  if (from != nullptr) address_to_user(s, h.addr, from, fromlen);
  if (msg_flags != nullptr) *msg_flags = framed.msg.msg_flags & MSG_TRUNC;
  return n - static_cast<ssize_t>(kHeader);
}

int take_pending_error(int fd) {
  DgramHeader h;
  ssize_t n = native::recv(fd, &h, kHeader, MSG_PEEK | MSG_DONTWAIT);
  if (n < static_cast<ssize_t>(kHeader) || h.kind != DgramKind::error) return 0;
  native::recv(fd, &h, kHeader, MSG_DONTWAIT);
  return h.error;
}

int next_datagram_size(int fd) {
  DgramHeader h;
  // Not the native FIONREAD: on a SOCK_SEQPACKET pair that counts every queued
  // message.
  ssize_t n = native::recv(fd, &h, kHeader, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
  if (n < static_cast<ssize_t>(kHeader) || h.kind != DgramKind::data) return 0;
  return static_cast<int>(n - static_cast<ssize_t>(kHeader));
}

}  // namespace pktd::client::dgram
