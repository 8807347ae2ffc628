// The data path of datagram sockets: every message on the socket's
// SOCK_SEQPACKET pair is a DgramHeader and the payload (ctl/socket_protocol.h).
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include "client/fd_table.h"

namespace pktd::client::dgram {

// One datagram of the iov's bytes to `to` (null: the connected peer). The
// payload's length, or -1 with errno as UDP's: EMSGSIZE, EDESTADDRREQ, EINVAL
// (port 0), EAGAIN, EPIPE after shutdown(SHUT_WR); ENETDOWN if pktd has gone.
ssize_t send(int fd, SocketInfo s, const iovec* iov, size_t iovcnt, int flags, const sockaddr* to,
             socklen_t tolen);

// One datagram into the iov; its source to from/fromlen (if from is not null)
// and MSG_TRUNC to *msg_flags (if not null). The payload's length (its full
// length with MSG_TRUNC; 0 after shutdown(SHUT_RD) once nothing is queued), or
// -1 with errno: EAGAIN, a pending error pktd reported (ECONNREFUSED...),
// ENETDOWN if pktd has gone.
ssize_t receive(int fd, const SocketInfo& s, const iovec* iov, size_t iovcnt, int flags,
                sockaddr* from, socklen_t* fromlen, int* msg_flags);

// SO_ERROR: the pending error at the head of the queue (taken off it), else 0.
int take_pending_error(int fd);

// FIONREAD: the next datagram's payload length, 0 if there is none.
int next_datagram_size(int fd);

}  // namespace pktd::client::dgram
