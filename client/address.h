// Socket addresses between the application's struct sockaddr and the protocol's
// SvcAddress, with the kernel's checks (what Linux answers for a bad address on
// an Internet socket).
#pragma once

#include <sys/socket.h>

#include "client/fd_table.h"
#include "ctl/socket_protocol.h"

namespace pktd::client {

// bind's address. -1 with errno: EFAULT (null), EINVAL (too short or long),
// EAFNOSUPPORT.
int bind_address(const SocketInfo& s, const sockaddr* addr, socklen_t len, ctl::SvcAddress* out);
// connect's address; AF_UNSPEC becomes family 0, which dissolves the
// association.
int connect_address(const SocketInfo& s, const sockaddr* addr, socklen_t len, ctl::SvcAddress* out);
// A datagram's destination (sendto, sendmsg): also EINVAL for port 0.
int destination_address(const SocketInfo& s, const sockaddr* addr, socklen_t len,
                        ctl::SvcAddress* out);

// Writes a as a sockaddr of the socket's family to addr, truncated to *len, and
// the full length to *len (what getsockname and recvfrom do). A null addr
// writes nothing.
void address_to_user(const SocketInfo& s, const ctl::SvcAddress& a, sockaddr* addr, socklen_t* len);

}  // namespace pktd::client
