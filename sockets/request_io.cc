// The service connection's messages: a request in (with at most one fd and the sender's
// credentials), a reply out (with at most one fd).
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "pktd/fd_message.h"
#include "sockets/service_internal.h"

namespace pktd::sockets {

std::vector<int> descriptors_in(msghdr& m, std::optional<ucred>* sender) {
  std::vector<int> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_CREDENTIALS && sender != nullptr && c->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
      ucred cred;
      std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
      *sender = cred;
    } else if (c->cmsg_type == SCM_RIGHTS) {
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        fds.push_back(fd);
      }
    }
  }
  return fds;
}

ReceivedRequest receive_request(int sock, ctl::SvcRequest* q) {
  ReceivedRequest got;
  ControlSpace control;
  iovec iov{q, sizeof *q};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control.bytes;
  m.msg_controllen = sizeof control.bytes;
  got.size = recvmsg(sock, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
  if (got.size < 0) return got;
  got.fds = descriptors_in(m, &got.sender);  // the caller closes every one, whatever the outcome
  got.too_many_fds = got.fds.size() > 1;
  return got;
}

bool send_reply(int sock, const ctl::SvcReply& r, int fd_to_pass) {
  const FdMessage m(&r, sizeof r, fd_to_pass);
  // Never blocking: the caller drops a client that lets its replies pile up.
  return !(sendmsg(sock, m.header(), MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno == EAGAIN);
}

}  // namespace pktd::sockets
