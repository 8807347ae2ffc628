#include "client/core.h"

#include <sys/socket.h>

#include <cstring>

#include "client/service.h"

namespace pktd::client {

namespace {

// The errno for pktd's refusal of a request about fd. pktd answers ENOTSOCK for a descriptor it
// does not know; if fd is still a pktd socket, the pktd that made it has gone and this one (its
// successor at the same path, or another instance's service) cannot serve it: the network is
// down for that socket, as its pair already says. Otherwise fd was closed and reused behind
// libpkt's back, and ENOTSOCK sends the caller to the native call (dispatch).
int refusal(int fd, int error) {
  if (error <= 0) return EIO;
  if (error == ENOTSOCK && fd_table::recheck(fd).has_value()) return ENETDOWN;
  return error;
}

}  // namespace

int answer(int fd, const ctl::SvcReply& reply) {
  return reply.result < 0 ? fail(refusal(fd, reply.error)) : reply.result;
}

int ask(int fd, const SocketInfo& s, ctl::SvcRequest& req, ctl::SvcReply* reply) {
  ctl::SvcReply local;
  if (reply == nullptr) reply = &local;
  if (service::call(s.service, req, fd, reply, nullptr) != 0) return -1;
  return answer(fd, *reply);
}

int pending_stream_error(int fd, const SocketInfo& s) {
  ctl::SvcRequest req;
  req.op = ctl::SvcOp::getsockopt;
  req.args[0] = SOL_SOCKET;
  req.args[1] = SO_ERROR;
  req.args[2] = sizeof(int);
  ctl::SvcReply reply;
  if (ask(fd, s, req, &reply) < 0) return -1;
  int error = 0;
  if (reply.optlen >= sizeof error) std::memcpy(&error, reply.opt, sizeof error);
  return error;
}

int is_connected(int fd, SocketInfo* s) {
  if (s->role == Role::connected) return 1;
  if (s->role == Role::listening) return 0;
  // Unconnected is asked again: another copy of the descriptor (dup, fork, SCM_RIGHTS) may have
  // connected the socket since, and only a call that would otherwise fail asks.
  ctl::SvcRequest req;
  req.op = ctl::SvcOp::getpeername;
  if (ask(fd, *s, req) >= 0) {
    s->role = Role::connected;
  } else if (errno == ENOTCONN) {
    s->role = Role::unconnected;
  } else {
    return -1;
  }
  fd_table::set_role(fd, s->role);
  return s->role == Role::connected ? 1 : 0;
}

bool no_longer_pktd(int fd) {
  if (errno != ENOTSOCK && errno != EBADF) return false;
  return !fd_table::recheck(fd).has_value();
}

}  // namespace pktd::client
