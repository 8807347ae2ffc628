#include "unix_wire.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "unique_fd.h"

namespace pktd_nointr {
namespace {

using pktd_kit::UniqueFd;


socklen_t unix_address(const std::string& path, sockaddr_un& addr) {
  addr = sockaddr_un{};
  addr.sun_family = AF_UNIX;
  // options.cc has checked that the path fits with its NUL.
  std::memcpy(addr.sun_path, path.data(), path.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
}

const sockaddr* as_sockaddr(const sockaddr_un& addr) {
  return reinterpret_cast<const sockaddr*>(&addr);
}

// What is at a socket path: connect() tells a bound socket (0, or EPROTOTYPE for a socket of
// another type) from a file nobody is bound to any more (ECONNREFUSED).
enum class PathUse { absent, live, stale, not_socket };

int probe_path(const std::string& path, PathUse& use) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return errno;
    use = PathUse::absent;
    return 0;
  }
  if (!S_ISSOCK(st.st_mode)) {
    use = PathUse::not_socket;
    return 0;
  }
  UniqueFd probe(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (probe.get() < 0) return errno;
  sockaddr_un addr;
  socklen_t len = unix_address(path, addr);
  if (::connect(probe.get(), as_sockaddr(addr), len) == 0 || errno == EPROTOTYPE) {
    use = PathUse::live;
    return 0;
  }
  if (errno == ECONNREFUSED) {
    use = PathUse::stale;
    return 0;
  }
  if (errno == ENOENT) {  // removed between lstat and connect
    use = PathUse::absent;
    return 0;
  }
  return errno;
}

// Makes `path` free to bind, or says why it is not ours to take.
int clear_path(const std::string& path) {
  PathUse use = PathUse::absent;
  if (int err = probe_path(path, use); err != 0) return err;
  switch (use) {
    case PathUse::absent: return 0;
    case PathUse::live: return EADDRINUSE;
    case PathUse::not_socket: return ENOTSOCK;
    case PathUse::stale: break;
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno;
  return 0;
}

int bind_path(int sock, const std::string& path, UnixWire& out) {
  sockaddr_un addr;
  socklen_t len = unix_address(path, addr);
  if (::bind(sock, as_sockaddr(addr), len) != 0) return errno;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    out.path_dev = st.st_dev;
    out.path_ino = st.st_ino;
  }
  out.path = path;
  out.bound = true;
  return 0;
}

bool still_ours(const UnixWire& wire) {
  struct stat st {};
  return ::lstat(wire.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) &&
         st.st_dev == wire.path_dev && st.st_ino == wire.path_ino;
}

}  // namespace

int open_wire(const std::string& path, const std::string& peer, UnixWire& out) {
  UniqueFd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return errno;
  UniqueFd wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (wake.get() < 0) return errno;
  if (int err = clear_path(path); err != 0) return err;
  // Two pktd racing for a stale path: the loser's bind fails with EADDRINUSE, as it should.
  if (int err = bind_path(sock.get(), path, out); err != 0) return err;
  out.peer_len = unix_address(peer, out.peer);
  out.sock = sock.release();
  out.wake = wake.release();
  return 0;
}

void close_wire(UnixWire& wire) {
  // Removed before the close, while the file certainly is ours: after it, another process may
  // already have taken the path over as stale.
  if (wire.bound && still_ours(wire)) ::unlink(wire.path.c_str());
  wire.bound = false;
  if (wire.sock >= 0) ::close(wire.sock);
  wire.sock = -1;
  if (wire.wake >= 0) ::close(wire.wake);
  wire.wake = -1;
}

bool peer_present(const UnixWire& wire) {
  std::string peer(wire.peer.sun_path);
  PathUse use = PathUse::absent;
  return probe_path(peer, use) == 0 && use == PathUse::live;
}

int send_frame(const UnixWire& wire, const void* data, size_t len) {
  ssize_t n = 0;
  do {
    n = ::sendto(wire.sock, data, len, MSG_DONTWAIT | MSG_NOSIGNAL, as_sockaddr(wire.peer),
                 wire.peer_len);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  // A datagram goes whole or not at all.
  return static_cast<size_t>(n) == len ? 0 : EMSGSIZE;
}

Readiness wait_for_frame(const UnixWire& wire) {
  pollfd fds[2] = {{wire.sock, POLLIN, 0}, {wire.wake, POLLIN, 0}};
  Readiness r;
  // No timeout: this is the blocking receive of a device without an interrupt. Only a frame or
  // the quiesce callback (through the eventfd) ends it.
  if (::poll(fds, 2, -1) < 0) {
    if (errno != EINTR) r.error = errno;
    return r;
  }
  // POLLERR/POLLHUP on the socket count as "read it": recv reports what is wrong.
  r.frame = fds[0].revents != 0;
  r.woken = fds[1].revents != 0;
  return r;
}

bool wait_for_wake(const UnixWire& wire) {
  pollfd fd{wire.wake, POLLIN, 0};
  return ::poll(&fd, 1, -1) > 0;
}

int receive_frame(const UnixWire& wire, void* buf, size_t cap, size_t& len, bool& truncated) {
  iovec iov{buf, cap};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  ssize_t n = 0;
  do {
    n = ::recvmsg(wire.sock, &msg, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  len = static_cast<size_t>(n);
  truncated = (msg.msg_flags & MSG_TRUNC) != 0;
  return 0;
}

void signal_wake(const UnixWire& wire) {
  uint64_t one = 1;
  // EAGAIN: the counter is saturated, so it is readable, which is all that matters.
  [[maybe_unused]] ssize_t n = ::write(wire.wake, &one, sizeof one);
}

void drain_wake(const UnixWire& wire) {
  uint64_t value = 0;
  [[maybe_unused]] ssize_t n = ::read(wire.wake, &value, sizeof value);
}

const char* error_text(int err) {
  const char* text = strerrordesc_np(err);
  return text != nullptr ? text : "unknown error";
}

}  // namespace pktd_nointr
