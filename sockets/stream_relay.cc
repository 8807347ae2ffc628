#include "sockets/stream_relay.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace pktd::sockets {

// One recvmsg with room for every descriptor a message can carry (the kernel's SCM_MAX_FD).
ssize_t StreamRelay::receive(std::span<std::byte> into) {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 253)];
  iovec iov{into.data(), into.size()};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  ssize_t n = recvmsg(fd_, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0 || m.msg_controllen == 0) return n;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (refuse_) refuse_(fd);
      else close(fd);
    }
  }
  return n;
}

PumpResult StreamRelay::pump_out(StreamConnection& c, std::span<std::byte> scratch) {
  if (out_finished_) return PumpResult::finished;
  for (;;) {
    size_t room = std::min(c.send_room(), scratch.size());
    if (room == 0) return PumpResult::blocked;  // the application's bytes wait in the pair
    ssize_t n = receive(scratch.first(room));
    if (n > 0) {
      c.send(scratch.first(static_cast<size_t>(n)));
      continue;
    }
    if (n == 0) {
      out_finished_ = true;
      c.finish_sending();
      return PumpResult::finished;
    }
    if (errno == EINTR) continue;
    return errno == EAGAIN ? PumpResult::blocked : PumpResult::failed;
  }
}

PumpResult StreamRelay::pump_in(StreamConnection& c) {
  for (;;) {
    std::span<const std::byte> data = c.received();
    if (data.empty()) {
      if (c.peer_finished() && !in_finished_) {
        shutdown(fd_, SHUT_WR);  // the application reads end of file after the last byte
        in_finished_ = true;
      }
      return PumpResult::blocked;
    }
    ssize_t n = send(fd_, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      c.consume(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN ? PumpResult::blocked : PumpResult::failed;
  }
}

}  // namespace pktd::sockets
