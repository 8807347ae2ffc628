// A TCP socket's bytes and events: the relay between its pair and its connection (stream_relay.h),
// what the set watches for it, the handshake's outcome and the connection's end.
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "base/log.h"
#include "sockets/service_internal.h"
#include "sockets/streams_internal.h"

namespace pktd::sockets {

namespace {

using ctl::SvcOp;
using ctl::SvcReply;
using tcp::State;

}  // namespace

// --- moving bytes ---

void SocketService::Impl::pump(AppSocket& s, bool out, bool in) {
  StreamSocket& t = *s.stream;
  if (!t.relay) return;
  tcp::Connection& c = *t.connection;
  if (out && !t.out_done && !t.awaiting_handshake && c.state() != State::closed) {
    PumpResult r = t.relay->pump_out(*t.stream, std::span(buffer_));
    if (r == PumpResult::finished) {
      t.out_done = true;  // the relay has closed the connection's sending side: a FIN
    } else if (r == PumpResult::failed) {
      // ECONNRESET: the application's end went with bytes it had not read (unix_release_sock).
      t.app_reset = errno == ECONNRESET;
      t.out_done = true;
    }
    t.out_needs_room = !t.out_done && c.state() != State::closed && c.send_room() == 0;
  }
  if (!in) return;
  if (t.read_shut) {  // shutdown(SHUT_RD): arriving bytes are taken and dropped
    while (!c.received().empty()) {
      size_t n = c.received().size();
      counters_.octets_discarded_after_shutdown += n;
      c.consume(n, now());
    }
    t.in_blocked = false;
    return;
  }
  if (t.pair_write_shut) return;
  PumpResult r = t.relay->pump_in(*t.stream);
  if (t.relay->end_of_file_delivered()) t.pair_write_shut = true;
  t.in_blocked = r == PumpResult::blocked && !c.received().empty();
  if (r == PumpResult::failed) {
    t.in_blocked = false;
    t.pair_write_shut = true;  // the application's end takes nothing more (gone, or shut natively)
  } else if (t.ended && c.error() != 0 && c.received().empty()) {
    // After a reset: the bytes that came before it, then end of file. Only once connection_ended
    // has stopped the application's writes, so that nothing it writes after seeing the end of
    // file succeeds.
    shut_pair(s, SHUT_WR);
  }
}

void SocketService::Impl::service_stream(AppSocket& s, bool epoll_event) {
  StreamSocket& t = *s.stream;
  if (t.busy) {  // a connection event while the socket is being serviced: after it
    t.event_pending = true;
    return;
  }
  t.busy = true;
  // From the set: the pair has bytes for the connection, or room for it. From the connection:
  // it has bytes for the pair, or room for the application's.
  bool out = epoll_event ? !t.out_needs_room : t.out_needs_room || t.orphan;
  bool in = epoll_event ? t.in_blocked : true;
  for (;;) {
    settle_connect(s);
    if (release_hold(s)) out = true;  // what waited for the handshake goes now
    pump(s, out, in);
    connection_ended(s);
    if (!t.event_pending) break;
    t.event_pending = false;
    out = t.out_needs_room || t.orphan;
    in = true;
  }
  t.busy = false;
  conclude(s, epoll_event);
}

void SocketService::Impl::stream_ready(AppSocket& s) {
  StreamSocket& t = *s.stream;
  if (t.orphan) return;
  if (t.phase == StreamPhase::listening) {
    t.handoff_blocked = false;  // EPOLLOUT: the application has accepted some
    hand_off(s);
    conclude(s, true);
    return;
  }
  service_stream(s, true);
}

// After the socket was serviced: close it if its application has gone, else watch it again.
void SocketService::Impl::conclude(AppSocket& s, bool epoll_event) {
  StreamSocket& t = *s.stream;
  if (t.orphan) {
    if (t.out_done || t.connection->state() == State::closed) close_socket(s.id);
    return;
  }
  // Only the set reports the application's close, or the end of its bytes did (let_go); a
  // hang-up (or an error: it went with bytes unread) is a reason to ask whether it has gone
  // (see the top of stream_close.cc).
  if (t.let_go ||
      (epoll_event && (t.app_reset || hangup_events(s.fd) != 0) && !application_present(s))) {
    application_gone(s);
    return;
  }
  arm_stream(s);
}

void SocketService::Impl::arm_stream(AppSocket& s) {
  StreamSocket& t = *s.stream;
  if (t.orphan || t.hangup_watch || set_fd_ < 0) return;
  if ((hangup_events(s.fd) & POLLHUP) != 0) {
    // Both directions are shut: a level-triggered hang-up would fire at once and forever.
    // Edge-triggered (and armed for good: a MOD would fire at once again), the set still wakes
    // at the application's last close.
    t.hangup_watch = true;
    set_events(s.fd, s.id, EPOLLHUP | EPOLLET);
    return;
  }
  uint32_t events = EPOLLONESHOT;  // POLLHUP and POLLERR are always reported
  bool reading = t.relay && !t.out_done && !t.out_needs_room && !t.awaiting_handshake &&
                 t.connection->state() != State::closed;
  if (reading) events |= EPOLLIN;
  if (t.in_blocked || t.handoff_blocked) events |= EPOLLOUT;
  set_events(s.fd, s.id, events);
}

// --- the handshake's outcome ---

void SocketService::Impl::settle_connect(AppSocket& s) {
  StreamSocket& t = *s.stream;
  if (t.phase != StreamPhase::connecting || !t.connection->was_established()) return;
  // A connect() waiting for it returns 0; without one, the next connect() does (Linux).
  if (!t.waiters.empty() && reply_waiters(s, 0)) t.phase = StreamPhase::connected;
}

// connect() holds the application's end: its earlier bytes go (Linux failed those writes with
// EPIPE: tcp_sendmsg on an unconnected socket), then filler keeps it unwritable (stream_relay.h).
void SocketService::Impl::hold_for_handshake(AppSocket& s) {
  StreamSocket& t = *s.stream;
  t.awaiting_handshake = true;
  counters_.octets_discarded_before_connect += t.relay->discard_queued(std::span(buffer_));
  top_up_filler(s);
}

// Also for SO_SNDBUF during the handshake: libpkt has set the end's own buffer already, and a
// larger one may have made it writable again.
void SocketService::Impl::top_up_filler(AppSocket& s) {
  StreamSocket& t = *s.stream;
  // After a shutdown(SHUT_WR) before connect the end's writes fail (EPIPE), filler's too.
  if (!t.awaiting_handshake || !t.relay || t.pair_read_shut || request_fd_ < 0) return;
  if (t.relay->write_filler(request_fd_)) return;
  // The connect still goes on; the end is merely writable early, as it was before the hold.
  ++counters_.handshake_holds_failed;
  PKTD_LOG_WARN("socket service: socket %llu stays writable during its handshake: %s",
                static_cast<unsigned long long>(s.id), std::strerror(errno));
}

// ESTABLISHED: pump_out drops the filler at the head of the pair, which makes the end writable
// (the kernel wakes its writers as the octets are read), then relays what the application wrote
// after it (a blocking send waits on Linux too, and goes first once connected).
bool SocketService::Impl::release_hold(AppSocket& s) {
  StreamSocket& t = *s.stream;
  if (!t.awaiting_handshake || !t.connection->was_established()) return false;
  t.awaiting_handshake = false;
  return true;
}

// The handshake failed or was abandoned: nothing held will be sent. Dropping it all makes the
// end writable, so poll wakes with POLLOUT (and POLLHUP once the pair is shut), as Linux's does
// with the error in SO_ERROR.
void SocketService::Impl::drop_hold(AppSocket& s) {
  StreamSocket& t = *s.stream;
  if (!t.relay || (!t.awaiting_handshake && t.relay->filler() == 0)) return;
  t.awaiting_handshake = false;
  t.relay->discard_queued(std::span(buffer_));
}

void SocketService::Impl::connection_ended(AppSocket& s) {
  StreamSocket& t = *s.stream;
  if (!t.connection || t.connection->state() != State::closed || t.ended) return;
  t.ended = true;
  int error = t.connection->error();
  if (t.phase == StreamPhase::connecting && !t.connection->was_established()) {
    if (error == 0) error = ECONNABORTED;
    // A blocking connect() takes the error (sock_error clears it); otherwise SO_ERROR or the
    // next connect() reports it.
    if (!t.waiters.empty() && reply_waiters(s, error)) t.phase = StreamPhase::failed;
    else t.error = error;
  } else if (error != 0) {
    t.error = error;  // read or write end here; libpkt asks SO_ERROR at end of file
  }
  if (error == 0) return;
  // The application's writes fail with EPIPE at once; it reads what arrived before the error,
  // then end of file (pump() shuts that side once the connection has nothing more).
  t.out_done = true;
  shut_pair(s, SHUT_RD);
  drop_hold(s);  // a failed handshake: the end becomes writable, and its writes fail (EPIPE)
  pump(s, false, true);
}

bool SocketService::Impl::reply_waiters(AppSocket& s, int error) {
  std::vector<ConnectWaiter> waiters = std::move(s.stream->waiters);
  s.stream->waiters.clear();
  bool delivered = false;
  for (const ConnectWaiter& w : waiters) {
    auto c = clients_.find(w.client);
    if (c == clients_.end()) continue;
    SvcReply r;
    r.op = SvcOp::connect;
    r.seq = w.seq;
    if (error != 0) {
      r.result = -1;
      r.error = error;
    }
    // The client interrupted its connect (EINTR) and closed this connection: not delivered.
    if (send(c->second.fd, &r, sizeof r, MSG_DONTWAIT | MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof r)) {
      delivered = true;
      rearm(c->second.fd, c->first);  // its next requests
    } else {
      close_client(w.client);
    }
  }
  return delivered;
}

}  // namespace pktd::sockets
