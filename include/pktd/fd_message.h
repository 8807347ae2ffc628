// One message over a Unix socket with at most one descriptor attached (SCM_RIGHTS).
//
// Header-only and internal (not installed with the SDK): the socket service, libpkt and the
// drivers pass descriptors the same way but link none of each other, so they share this header
// rather than a library.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstring>

namespace pktd {

// The msghdr for sendmsg(): one buffer, and fd as SCM_RIGHTS unless fd < 0. The header points
// into the object itself, so it is neither copied nor moved; keep it alive until sendmsg returns.
class FdMessage {
 public:
  FdMessage(const void* data, std::size_t size, int fd)
      : iov_{const_cast<void*>(data), size} {  // sendmsg only reads: iovec has no const form
    msg_.msg_iov = &iov_;
    msg_.msg_iovlen = 1;
    if (fd < 0) return;
    msg_.msg_control = control_;
    msg_.msg_controllen = sizeof control_;
    cmsghdr* c = CMSG_FIRSTHDR(&msg_);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof fd);
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  FdMessage(const FdMessage&) = delete;
  FdMessage& operator=(const FdMessage&) = delete;

  [[nodiscard]] const msghdr* header() const { return &msg_; }

 private:
  iovec iov_;
  alignas(cmsghdr) char control_[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg_{};
};

}  // namespace pktd
