// Connections a listening socket hands to its application. Each is a new socket (its own pair,
// named like any other, counted against the listener owner's limit) whose application end travels
// over the listening socket's pair as one message: the peer's SvcAddress and the descriptor
// (SCM_RIGHTS). libpkt's accept() is a recvmsg of that message (client/calls_socket.cc).
//
// Back-pressure, as Linux's accept queue gives it: the listening pair's send buffer is the
// smallest the kernel allows (streams.cc), so a few connections the application has not accepted
// fill it; pktd then stops taking from the Listener until the pair has room (EPOLLOUT), and the
// Listener's own queues fill as they would under a slow accept() (accept queue, SYN queue, then
// cookies, transport/tcp/layer.h). At most one accepted connection waits outside both.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "pktd/fd_message.h"
#include "sockets/service_internal.h"

namespace pktd::sockets {

namespace {

enum class Delivery { sent, blocked, broken };

Delivery send_connection(int listening_fd, const ctl::SvcAddress& peer, int app_end) {
  const FdMessage m(&peer, sizeof peer, app_end);
  ssize_t n = sendmsg(listening_fd, m.header(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n == static_cast<ssize_t>(sizeof peer)) return Delivery::sent;
  // One small message with its descriptor goes whole or not at all; anything else means the
  // listening socket's application end has gone (its close is on its way to the set).
  return n < 0 && errno == EAGAIN ? Delivery::blocked : Delivery::broken;
}

}  // namespace

// The Listener calls on_acceptable from inside the connection's own segment processing: the
// hand-off, which pumps and may reset the connection, waits for the layer to return.
void SocketService::Impl::post_hand_off(AppSocket& listening) {
  StreamSocket& t = *listening.stream;
  if (t.handoff_posted) return;
  t.handoff_posted = true;
  rt_.post([this, id = listening.id] {
    auto it = sockets_.find(id);
    if (stopped_ || it == sockets_.end() || !it->second.stream) return;
    it->second.stream->handoff_posted = false;
    hand_off(it->second);
    if (retry_listeners_) retry_limited_listeners();
  }, "socket service: accept");
}

void SocketService::Impl::hand_off(AppSocket& listening) {
  StreamSocket& t = *listening.stream;
  for (;;) {
    if (t.handoff_blocked) return;  // waits for EPOLLOUT
    if (t.waiting_handoff) {
      auto it = sockets_.find(*t.waiting_handoff);
      if (it != sockets_.end() && !deliver(listening, it->second)) return;
      t.waiting_handoff.reset();
    }
    if (!t.listener || t.listener->accept_queue_size() == 0) return;
    auto held = per_user_.find(listening.owner);
    if (held != per_user_.end() && held->second >= limits_.sockets_per_user) {
      // As accept() at its descriptor limit: the connection stays queued until a socket closes.
      if (held_listeners_.insert(listening.id).second) ++counters_.accepts_held_by_limit;
      return;
    }
    std::shared_ptr<tcp::Connection> c = t.listener->accept();
    if (!c) return;
    int app_end = -1, error = 0;
    AppSocket* a = new_socket(Caller{listening.owner, 0}, listening.family, SOCK_STREAM, IPPROTO_TCP,
                              &app_end, &error);
    if (a == nullptr) {  // pktd is out of descriptors: the connection is reset
      ++counters_.accepts_failed;
      c->abort(now());
      continue;
    }
    // A connection inherits the listening socket's options (Linux copies the socket).
    StreamSocket& at = *a->stream;
    a->options = listening.options;
    at.config = c->config();
    at.reuse_address = t.reuse_address;
    at.reuse_port = t.reuse_port;
    at.receive_buffer = t.receive_buffer;
    at.send_buffer = t.send_buffer;
    if (t.receive_buffer != 0) {  // the pair towards the application, as the listener's SO_RCVBUF
      int half = t.receive_buffer / 2;
      setsockopt(a->fd, SOL_SOCKET, SO_SNDBUF, &half, sizeof half);
    }
    at.phase = StreamPhase::connected;
    at.undelivered_fd = app_end;
    start_relay(*a, std::move(c));
    t.waiting_handoff = a->id;
    service_stream(*a, false);  // bytes or a FIN may have come with the handshake
  }
}

// false: the listening pair is full (handoff_blocked) and the accepted socket keeps waiting.
bool SocketService::Impl::deliver(AppSocket& listening, AppSocket& accepted) {
  StreamSocket& at = *accepted.stream;
  const tcp::Endpoints& e = at.connection->endpoints();
  switch (send_connection(listening.fd, address_of({e.remote, e.remote_port}), at.undelivered_fd)) {
    case Delivery::sent:
      close(at.undelivered_fd);  // the application's copy is in the message
      at.undelivered_fd = -1;
      ++counters_.connections_accepted;
      return true;
    case Delivery::blocked:
      listening.stream->handoff_blocked = true;
      ++counters_.handoffs_deferred;
      arm_stream(listening);
      return false;
    case Delivery::broken:
      break;
  }
  // Never accepted: reset, as Linux resets what is queued on a listener that closes.
  finish_stream(accepted, true);
  close_socket(accepted.id);
  return true;
}

void SocketService::Impl::retry_limited_listeners() {
  retry_listeners_ = false;
  std::set<uint64_t> held = std::move(held_listeners_);
  held_listeners_.clear();
  for (uint64_t id : held)
    if (auto it = sockets_.find(id); it != sockets_.end() && it->second.stream) hand_off(it->second);
}

}  // namespace pktd::sockets
