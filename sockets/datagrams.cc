// Datagrams between applications and the UDP table. Each message on a socket's pair is a
// DgramHeader and the payload (ctl/socket_protocol.h).
//
// Sends are asynchronous: the application's send returns once its message is in its socket's
// buffer, and what the stack refuses later (no route, a broadcast without SO_BROADCAST) is
// counted here, not returned to that send. docs/sockets.md lists this departure from Linux.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "sockets/service_internal.h"

namespace pktd::sockets {

namespace {

constexpr int kMessagesPerTurn = 64;  // then the socket waits its turn (fairness)
// Before a request: everything queued. The pair holds at most a few hundred messages (its send
// buffer), so this bound is only there so that a writer racing pktd cannot hold the stack.
constexpr int kMessagesBeforeRequest = 4096;

// An empty record reads as 0 too; only a hang-up means the application has closed.
bool hung_up(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLRDHUP)) != 0;
}

}  // namespace

// A datagram socket's messages carry no descriptors; a raw writer's are closed off the stack.
void SocketService::Impl::refuse_descriptors(msghdr& m) {
  for (int fd : descriptors_in(m, nullptr)) {
    ++counters_.descriptors_refused;
    closer_.close_later(fd);
  }
}

bool SocketService::Impl::is_broadcast(wire::Ipv4Address a) const {
  return stack_ != nullptr && stack_->is_broadcast_address(a);
}

void SocketService::Impl::drain_socket(AppSocket& s, bool all) {
  const uint64_t id = s.id;
  const int budget = all ? kMessagesBeforeRequest : kMessagesPerTurn;
  for (int i = 0; i < budget; ++i) {
    ctl::DgramHeader h;
    iovec iov[2] = {{&h, sizeof h}, {buffer_.data(), buffer_.size()}};
    ControlSpace control;
    msghdr m{};
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    m.msg_control = control.bytes;
    m.msg_controllen = sizeof control.bytes;
    ssize_t n = recvmsg(s.fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n >= 0) refuse_descriptors(m);
    if (n == 0 && hung_up(s.fd)) {  // every copy of the application's fd is closed
      close_socket(id);
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      PKTD_LOG_WARN("socket service: socket %llu: %s; closing it",
                    static_cast<unsigned long long>(id), std::strerror(errno));
      close_socket(id);
      return;
    }
    if (static_cast<size_t>(n) < sizeof h || h.kind != ctl::DgramKind::data ||  // an empty record too
        (m.msg_flags & MSG_TRUNC) != 0) {
      ++counters_.bad_messages;
      continue;
    }
    if (s.sends_discarded) {
      ++counters_.dropped_after_shutdown;
      continue;
    }
    send_datagram(s, h, std::span(buffer_).first(static_cast<size_t>(n) - sizeof h));
    if (!sockets_.contains(id)) return;
  }
  rearm(s.fd, id);
}

void SocketService::Impl::send_datagram(AppSocket& s, const ctl::DgramHeader& h,
                                        std::span<const std::byte> payload) {
  if (stack_ == nullptr) return;
  inet::UdpEndpoint to = s.udp->remote;
  if (h.addr.family == AF_INET) {
    to = endpoint_of(h.addr);
  } else if (h.addr.family != AF_UNSPEC || to.port == 0) {
    ++counters_.send_no_destination;  // libpkt answers EDESTADDRREQ itself; a raw writer may not
    return;
  }
  if (is_broadcast(to.address) && !s.options.broadcast) {
    ++counters_.send_broadcast_refused;  // Linux: EACCES (RFC 1122 4.1.3.5 leaves it to us)
    return;
  }
  if (!s.bound && bind_ephemeral(s) != 0) {
    ++counters_.send_failed;
    return;
  }
  inet::Stack::SendOptions o;
  o.ttl = s.options.ttl == -1 ? 0 : static_cast<uint8_t>(s.options.ttl);
  o.tos = static_cast<uint8_t>(s.options.tos);
  int err = stack_->udp_output(s.udp->local, to, payload, o);
  if (err != 0) {
    ++counters_.send_failed;
    return;
  }
  ++counters_.datagrams_sent;
}

bool SocketService::Impl::pass_up(AppSocket& s, const inet::UdpEndpoint& from,
                                  std::span<const std::byte> data) {
  if (s.read_shut) {
    // The pair's write side is shut, so that the application reads end of file. Linux would
    // still queue datagrams that arrive after SHUT_RD for a later recv; pktd drops and counts
    // them (docs/sockets.md).
    ++counters_.dropped_after_shutdown;
    return false;
  }
  ctl::DgramHeader h;
  h.addr = address_of(from);
  iovec iov[2] = {{&h, sizeof h}, {const_cast<std::byte*>(data.data()), data.size()}};
  msghdr m{};
  m.msg_iov = iov;
  m.msg_iovlen = 2;
  if (sendmsg(s.fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
    // EAGAIN: the application's receive buffer (our end's send buffer) is full, as a full
    // Linux socket drops (RcvbufErrors). EPIPE: it has gone; the hang-up closes the socket.
    ++counters_.receive_buffer_full;
    return false;
  }
  ++counters_.datagrams_received;
  return true;
}

void SocketService::Impl::pass_error(AppSocket& s, int error) {
  ctl::DgramHeader h;
  h.kind = ctl::DgramKind::error;
  h.error = error;
  if (send(s.fd, &h, sizeof h, MSG_DONTWAIT | MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof h))
    ++counters_.errors_passed;
  else
    ++counters_.errors_dropped;  // no room, or read side shut: the application never hears of it
}

}  // namespace pktd::sockets
