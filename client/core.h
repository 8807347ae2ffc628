// Helpers shared by the calls of libpkt (calls_*.cc).
#pragma once

#include <errno.h>

#include "client/fd_table.h"
#include "ctl/socket_protocol.h"

namespace pktd::client {

inline int fail(int error) {
  errno = error;
  return -1;
}

// Asks pktd to do req.op on fd's socket: the reply's result, or -1 with errno
// (pktd's answer, or ENETDOWN when pktd cannot be reached). reply may be null.
int ask(int fd, const SocketInfo& s, ctl::SvcRequest& req, ctl::SvcReply* reply = nullptr);

// pktd's answer to a request about fd as ask() gives it: the result, or -1 with errno.
int answer(int fd, const ctl::SvcReply& reply);

// The error a stream's connection ended with (SO_ERROR, taken: pktd reports it once), 0 if none;
// -1 with errno (ENETDOWN) when pktd cannot tell.
int pending_stream_error(int fd, const SocketInfo& s);

// Whether fd's socket has a peer (1) or not (0): the table's "connected", else
// pktd's answer (the table may not know, for an inherited socket, or be stale,
// when another copy of the descriptor connected it); -1 with errno if pktd
// could not tell.
int is_connected(int fd, SocketInfo* s);

// A call on what the table said was a pktd socket failed with errno: if that is
// ENOTSOCK or EBADF and fd is not (or no longer) a pktd socket, the caller
// should make the native call.
bool no_longer_pktd(int fd);

}  // namespace pktd::client

namespace pktd::client {

// The shape of every call that takes a descriptor: on_pktd(SocketInfo) for a
// pktd socket, native() for anything else, and native() after all when the pktd
// call shows that the table was wrong (the descriptor was closed and reused
// behind libpkt's back).
template <typename OnPktd, typename Native>
auto dispatch(int fd, OnPktd on_pktd, Native native_call) -> decltype(native_call()) {
  std::optional<SocketInfo> s = fd_table::find(fd);
  if (!s) return native_call();
  auto result = on_pktd(*s);
  if (result < 0 && no_longer_pktd(fd)) return native_call();
  return result;
}

}  // namespace pktd::client
