// A TCP socket's state in the socket service (internal to sockets/): what Linux keeps in struct
// socket and struct sock for a stream, over transport/tcp's Binding, Listener and Connection.
// docs/sockets.md tells the design; streams.cc, stream_accept.cc and stream_options.cc use it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "sockets/stream_relay.h"
#include "time/clock.h"
#include "transport/tcp/connection.h"
#include "transport/tcp/layer.h"

namespace pktd::sockets {

// The relay's view of a tcp::Connection (stream_relay.h). Time is read when the relay calls.
class TcpStream final : public StreamConnection {
 public:
  TcpStream(tcp::Connection& c, const time::Clock& clock) : c_(c), clock_(clock) {}
  size_t send_room() const override { return c_.send_room(); }
  void send(std::span<const std::byte> bytes) override { c_.send(bytes, clock_.now()); }
  // The application's bytes have ended: a FIN, unless resets_instead says that the socket
  // service will reset the connection (SO_LINGER {1, 0} on the application's close), which Linux
  // does without a FIN first (tcp_close).
  void finish_sending() override {
    if (!resets_instead || !resets_instead()) c_.close(clock_.now());
  }
  std::function<bool()> resets_instead;
  std::span<const std::byte> received() const override { return c_.received(); }
  void consume(size_t n) override { c_.consume(n, clock_.now()); }
  bool peer_finished() const override { return c_.peer_finished(); }

 private:
  tcp::Connection& c_;
  const time::Clock& clock_;
};

// What Linux's struct socket calls sock->state: what connect() answers next.
enum class StreamPhase : uint8_t {
  unconnected,  // never connected (SS_UNCONNECTED, TCP_CLOSE)
  connecting,   // connect() started, its outcome not yet reported to a connect() (SS_CONNECTING)
  connected,    // a connect() reported success, or accept() made it (SS_CONNECTED)
  listening,
  failed,       // the handshake failed; the pair is shut (the socket cannot connect again)
};

// A blocking connect's reply, sent when the handshake is decided (docs/sockets.md).
struct ConnectWaiter {
  uint64_t client = 0;  // the service connection, whose requests wait meanwhile
  uint64_t seq = 0;
};

struct StreamSocket {
  StreamPhase phase = StreamPhase::unconnected;
  std::shared_ptr<tcp::Binding> binding;  // bind(), or listen()'s ephemeral port
  std::shared_ptr<tcp::Listener> listener;
  std::shared_ptr<tcp::Connection> connection;
  std::unique_ptr<TcpStream> stream;  // the relay's view of connection
  std::unique_ptr<StreamRelay> relay;
  tcp::ConnectionConfig config;  // options for the connection to come (or the listener's children)
  bool reuse_address = false, reuse_port = false;
  uint16_t user_mss = 0;  // TCP_MAXSEG as set (0: none)
  int receive_buffer = 0, send_buffer = 0;  // SO_RCVBUF, SO_SNDBUF as set and reported (0: defaults)
  int error = 0;          // SO_ERROR: the error that ended the connection, until reported once
  std::vector<ConnectWaiter> waiters;

  // The pumps (stream_relay.h) and the pair's state.
  bool out_done = false;        // the application's bytes have ended (EOF, or its end broke)
  bool out_needs_room = false;  // pump_out waits for the connection's send room, not for the pair
  bool in_blocked = false;      // pump_in waits for the application to read (EPOLLOUT)
  bool app_reset = false;       // the application's end went with bytes it never read (ECONNRESET)
  bool pair_read_shut = false;  // pktd shut its end's read side (SHUT_WR, an error)
  bool pair_write_shut = false; // pktd shut its end's write side (end of file, SHUT_RD, an error)
  bool read_shut = false;       // shutdown(SHUT_RD): what arrives later is discarded
  bool hangup_watch = false;    // the pair is shut both ways: watched edge-triggered for the close
  bool let_go = false;          // the application's end of writing was its close (stream_close.cc)
  // connect() until the handshake is decided: pktd relays none of the application's bytes, and
  // a non-blocking connect's filler keeps its end unwritable (stream_relay.h, docs/sockets.md).
  bool awaiting_handshake = false;
  bool orphan = false;          // the application has gone; pktd still sends what it wrote
  bool ended = false;           // the connection's end has been dealt with
  bool busy = false;            // being serviced (a connection event during it is deferred)
  bool event_pending = false;

  // A listener's hand-off (stream_accept.cc): an accepted socket whose descriptor waits for room
  // in this listening socket's pair.
  std::optional<uint64_t> waiting_handoff;
  bool handoff_blocked = false;  // the pair is full: EPOLLOUT
  bool handoff_posted = false;   // a hand-off waits for the stack context

  // Accepted sockets until handed over: pktd's copy of the application's end.
  int undelivered_fd = -1;
};

}  // namespace pktd::sockets
