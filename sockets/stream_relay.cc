#include "sockets/stream_relay.h"

#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace pktd::sockets {

namespace {

// The filler's octets (their value does not matter: nobody reads them).
constexpr size_t kFillerChunk = 64 * 1024;
const std::byte kZeros[kFillerChunk]{};
// A bound on write_filler's rounds: one is enough up to a 256 KiB send buffer, two for the
// largest SO_SNDBUF gives (2 * wmem_max); 64 chunks hold a 16 MiB one (SO_SNDBUFFORCE), and past
// that the end stays writable rather than pktd spending more memory on it.
constexpr int kFillerRounds = 64;

bool writable(int fd) {
  pollfd p{fd, POLLOUT, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) != 0;
}

// What the next filler write should carry: enough to take the end past a quarter of its send
// buffer (unix_writable's limit), counting what is already charged to it (SIOCOUTQ: a Unix
// socket's sk_wmem_alloc, bookkeeping included). Every octet written costs at least an octet of
// that bookkeeping, so one such write is enough; poll still has the last word.
size_t filler_chunk(int app_fd) {
  int send_buffer = 0, charged = 0;
  socklen_t len = sizeof send_buffer;
  if (getsockopt(app_fd, SOL_SOCKET, SO_SNDBUF, &send_buffer, &len) != 0 || send_buffer <= 0)
    return kFillerChunk;
  if (ioctl(app_fd, SIOCOUTQ, &charged) != 0 || charged < 0) charged = 0;
  const size_t limit = static_cast<size_t>(send_buffer) / 4 + 1;
  const size_t missing = limit > static_cast<size_t>(charged) ? limit - static_cast<size_t>(charged) : 1;
  return std::min(missing, kFillerChunk);
}

}  // namespace

// One recvmsg with room for every descriptor a message can carry (the kernel's SCM_MAX_FD) and,
// while filler is queued, the writer's credentials: with SO_PASSCRED on, the kernel never joins
// two writers' octets in one read (unix_stream_read_generic), so a read is all filler or none.
ssize_t StreamRelay::receive(std::span<std::byte> into, bool* filler) {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 253) + CMSG_SPACE(sizeof(ucred))];
  iovec iov{into.data(), into.size()};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  *filler = false;
  ssize_t n = recvmsg(fd_, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0 || m.msg_controllen == 0) return n;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
      ucred who{};
      std::memcpy(&who, CMSG_DATA(c), sizeof who);
      *filler = filler_ > 0 && who.pid == getpid();
      continue;
    }
    if (c->cmsg_type != SCM_RIGHTS) continue;
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

bool StreamRelay::pass_credentials(bool on) {
  int value = on ? 1 : 0;
  return setsockopt(fd_, SOL_SOCKET, SO_PASSCRED, &value, sizeof value) == 0;
}

void StreamRelay::drop_filler(size_t octets) {
  filler_ -= std::min(octets, filler_);
  if (filler_ == 0) pass_credentials(false);  // the application's reads join writes again
}

bool StreamRelay::write_filler(int app_fd) {
  // The kernel records a writer's credentials only while the reader asks for them (SO_PASSCRED
  // at the time of the write): on before the first octet, or the filler could not be told apart.
  if (filler_ == 0 && !pass_credentials(true)) return false;
  int error = EMSGSIZE;  // what is left if the rounds run out (a send buffer past any bound)
  for (int round = 0; round < kFillerRounds; ++round) {
    if (!writable(app_fd)) {
      error = 0;
      break;
    }
    ssize_t n = send(app_fd, kZeros, filler_chunk(app_fd), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      filler_ += static_cast<size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      error = errno;  // EPIPE: pktd's end is shut (EAGAIN cannot be: the end was writable)
      break;
    }
  }
  if (filler_ == 0) pass_credentials(false);
  errno = error;
  return error == 0;
}

size_t StreamRelay::discard_queued(std::span<std::byte> scratch) {
  // No more than is queued now: an application writing all the while cannot keep pktd here.
  int queued = 0;
  if (ioctl(fd_, SIOCINQ, &queued) != 0 || queued < 0) queued = 0;
  size_t left = static_cast<size_t>(queued), dropped = 0;
  while (left > 0) {
    bool filler = false;
    ssize_t n = receive(scratch.first(std::min(left, scratch.size())), &filler);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    left -= std::min(left, static_cast<size_t>(n));
    if (filler) drop_filler(static_cast<size_t>(n));
    else dropped += static_cast<size_t>(n);
  }
  return dropped;
}

PumpResult StreamRelay::pump_out(StreamConnection& c, std::span<std::byte> scratch) {
  if (out_finished_) return PumpResult::finished;
  for (;;) {
    size_t room = std::min(c.send_room(), scratch.size());
    if (room == 0) return PumpResult::blocked;  // the application's bytes wait in the pair
    bool filler = false;
    ssize_t n = receive(scratch.first(room), &filler);
    if (n > 0 && filler) {  // pktd's own octets, written while a handshake was under way
      drop_filler(static_cast<size_t>(n));
      continue;
    }
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
