// The end of a TCP socket: its application letting go, and what pktd then does with the
// connection (as Linux's tcp_close), or with a listener.
//
// Knowing that the application has let go. Its last close shows on pktd's end of the pair as a
// hang-up (POLLHUP: both directions shut) — but so does an application that shut its write side
// after pktd shut its own at the peer's FIN, while it still holds the socket. So a hang-up is only
// a reason to ask, and the answer comes from the application's end itself: its abstract name
// (requests.cc) stays bound exactly as long as the socket exists, so binding the same name fails
// with EADDRINUSE until the last copy is closed (application_present). While the pair is shut
// both ways the hang-up is permanent, so it is watched edge-triggered (stream_flow.cc): the
// kernel's state change at the application's last close wakes the set once more
// (unix_release_sock), and pktd asks again then.
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <vector>

#include "base/log.h"
#include "sockets/service_internal.h"
#include "sockets/streams_internal.h"

namespace pktd::sockets {

namespace {

using tcp::State;

// 1: the application's end still exists, 0: it has gone, -1: cannot tell (no descriptor left).
int probe_name(const std::string& name) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (name.empty() || name.size() + 1 > sizeof sun.sun_path) return -1;
  std::memcpy(sun.sun_path + 1, name.data(), name.size());
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return -1;
  int bound = ::bind(probe, reinterpret_cast<sockaddr*>(&sun), len);
  int error = errno;
  close(probe);  // frees the name again at once
  if (bound == 0) return 0;
  return error == EADDRINUSE ? 1 : -1;
}

// SO_LINGER with a zero timeout: the close resets the connection (Linux's tcp_close).
bool lingers_zero(const AppSocket& s) {
  return s.options.linger_onoff != 0 && s.options.linger_seconds == 0;
}

}  // namespace

// --- the application's end ---

bool SocketService::Impl::application_present(AppSocket& s) {
  int present = probe_name(s.name);
  if (present < 0)
    PKTD_LOG_WARN("socket service: cannot tell whether socket %llu is still open: %s",
                  static_cast<unsigned long long>(s.id), std::strerror(errno));
  return present != 0;
}

void SocketService::Impl::application_gone(AppSocket& s) {
  StreamSocket& t = *s.stream;
  const uint64_t id = s.id;
  uncount(s);
  if (set_fd_ >= 0) epoll_ctl(set_fd_, EPOLL_CTL_DEL, s.fd, nullptr);
  if (!t.connection || t.connection->state() == State::closed) {
    close_socket(id);
    return;
  }
  // Linux's tcp_close: bytes the application never read, or SO_LINGER with a zero timeout, reset
  // the connection (RFC 1122 4.2.2.13, RFC 9293 3.10.4); an unsynchronized one just goes.
  // Otherwise a FIN follows what it wrote before closing.
  int pending = 0;
  socklen_t len = sizeof pending;
  getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &pending, &len);  // ECONNRESET: it left bytes unread
  bool unread = t.app_reset || pending == ECONNRESET || t.connection->received_size() > 0;
  t.connection->application_gone();
  if (unread || lingers_zero(s) || !t.connection->is_synchronized()) {
    if (t.connection->is_synchronized()) ++counters_.closes_reset;
    t.connection->abort(now());
    close_socket(id);
    return;
  }
  // An orphan until the pair is drained: what the application wrote goes out, then the FIN.
  t.orphan = true;
  ++counters_.orphans;
  service_stream(s, false);
}

// The application's bytes have ended (pktd's end reads end of file): a shutdown(SHUT_WR) or its
// close. Linux's close with SO_LINGER {1, 0} sends a RST and no FIN (tcp_close), so the FIN the
// relay would send now waits for this answer; the close is only told from a shutdown when the
// answer matters. pktd's own SHUT_RD (the shutdown(SHUT_WR) request, an error) ends the bytes
// too, and an application that shut its end natively still holds it (application_present).
bool SocketService::Impl::closes_abortively(uint64_t id) {
  auto it = sockets_.find(id);
  if (it == sockets_.end() || !it->second.stream) return false;
  AppSocket& s = it->second;
  StreamSocket& t = *s.stream;
  if (!lingers_zero(s) || t.pair_read_shut || t.orphan || application_present(s)) return false;
  t.let_go = true;  // conclude() resets it (application_gone)
  return true;
}

void SocketService::Impl::finish_stream(AppSocket& s, bool abort) {
  StreamSocket& t = *s.stream;
  if (!t.waiters.empty()) reply_waiters(s, t.error != 0 ? t.error : ECONNABORTED);
  const bool had_listener = static_cast<bool>(t.listener);
  if (t.listener) {
    t.listener->on_acceptable = nullptr;
    if (stack_ != nullptr) t.listener->close(now());  // its queued connections are reset
    t.listener.reset();
  }
  held_listeners_.erase(s.id);
  if (t.waiting_handoff) {  // accepted, never handed over: reset, as Linux resets them
    uint64_t accepted = *t.waiting_handoff;
    t.waiting_handoff.reset();
    if (auto it = sockets_.find(accepted); it != sockets_.end()) {
      finish_stream(it->second, true);
      close_socket(accepted);
    }
  }
  if (t.connection) {
    by_connection_.erase(t.connection.get());
    if (abort && stack_ != nullptr && t.connection->state() != State::closed) t.connection->abort(now());
  } else if (t.binding && !had_listener && stack_ != nullptr) {
    tcp().unbind(t.binding);  // bound, never used
  }
  t.relay.reset();
  t.stream.reset();
  t.connection.reset();
  t.binding.reset();
  if (t.undelivered_fd >= 0) close(t.undelivered_fd);
  t.undelivered_fd = -1;
}

size_t SocketService::Impl::close_let_go_streams(uint16_t port) {
  std::vector<uint64_t> ids;
  for (const auto& [id, s] : sockets_) {
    if (!s.stream || s.stream->orphan || !s.counted) continue;
    const StreamSocket& t = *s.stream;
    uint16_t held = t.connection ? t.connection->endpoints().local_port : t.binding ? t.binding->port : 0;
    if (held == port && hangup_events(s.fd) != 0) ids.push_back(id);
  }
  size_t closed = 0;
  for (uint64_t id : ids) {
    auto it = sockets_.find(id);
    if (it == sockets_.end() || application_present(it->second)) continue;
    application_gone(it->second);
    ++closed;
  }
  return closed;
}

std::pair<size_t, size_t> SocketService::Impl::pair_queues(const tcp::Connection* c) const {
  auto it = by_connection_.find(c);
  if (it == by_connection_.end()) return {0, 0};
  auto s = sockets_.find(it->second);
  if (s == sockets_.end()) return {0, 0};
  // Towards the application: what it has not read (SIOCOUTQ: bookkeeping included, as the UDP
  // rows count it); from it: what pktd has not taken yet.
  int unread = 0, untaken = 0;
  if (ioctl(s->second.fd, SIOCOUTQ, &unread) != 0 || unread < 0) unread = 0;
  if (ioctl(s->second.fd, SIOCINQ, &untaken) != 0 || untaken < 0) untaken = 0;
  size_t written = static_cast<size_t>(untaken);
  if (const StreamRelay* relay = s->second.stream->relay.get())  // a connect's filler is pktd's
    written -= std::min(written, relay->filler());
  return {static_cast<size_t>(unread), written};
}

}  // namespace pktd::sockets
