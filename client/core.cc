#include "client/core.h"

#include "client/service.h"

namespace pktd::client {

int ask(int fd, const SocketInfo& s, ctl::SvcRequest& req, ctl::SvcReply* reply) {
  ctl::SvcReply local;
  if (reply == nullptr) reply = &local;
  if (service::call(s.service, req, fd, reply, nullptr) != 0) return -1;
  if (reply->result < 0) return fail(reply->error > 0 ? reply->error : EIO);
  return reply->result;
}

int is_connected(int fd, SocketInfo* s) {
  if (s->role == Role::connected) return 1;
  if (s->role != Role::unknown) return 0;
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
