// TCP sockets in the socket service: their requests (bind, listen, connect, shutdown, names) and
// the TCP layer's events. Errors are those of Linux's net/ipv4/af_inet.c and tcp.c for the same
// call; the departures are listed in docs/sockets.md. stream_flow.cc moves the bytes,
// stream_close.cc ends sockets, stream_accept.cc hands connections to listeners' applications.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "base/log.h"
#include "sockets/service_internal.h"
#include "sockets/streams_internal.h"

namespace pktd::sockets {

namespace {

using ctl::SvcAddress;
using ctl::SvcOp;
using ctl::SvcReply;
using ctl::SvcRequest;
using tcp::State;

// Linux clamps listen()'s backlog to net.core.somaxconn, a negative one included (it compares
// as unsigned: __sys_listen).
int clamp_backlog(int backlog, uint32_t somaxconn) {
  return static_cast<unsigned>(backlog) > somaxconn ? static_cast<int>(somaxconn) : backlog;
}

bool synchronized_state(State st) {
  return st != State::closed && st != State::listen && st != State::syn_sent &&
         st != State::time_wait;
}

}  // namespace

// --- the TCP layer's events ---

void SocketService::Impl::set_stack(inet::Stack* stack) {
  if (stack_ != nullptr) tcp().on_connection_event = nullptr;
  stack_ = stack;
  if (stack_ != nullptr)
    tcp().on_connection_event = [this](tcp::Connection& c) { connection_event(c); };
}

void SocketService::Impl::connection_event(tcp::Connection& c) {
  auto it = by_connection_.find(&c);
  if (it == by_connection_.end()) return;  // no socket holds it (yet, or any more)
  auto s = sockets_.find(it->second);
  if (s == sockets_.end()) return;
  service_stream(s->second, false);
  if (retry_listeners_) retry_limited_listeners();
}

// --- making and naming ---

void SocketService::Impl::init_stream(AppSocket& s) {
  s.stream = std::make_unique<StreamSocket>();
  s.stream->config = tcp().config().connection;
  arm_stream(s);
}

SvcReply SocketService::Impl::execute_stream(AppSocket& s, const Caller& who, const SvcRequest& q) {
  SvcReply r;
  int err = 0;
  switch (q.op) {
    case SvcOp::bind: err = stream_bind(s, q.addr, who); break;
    case SvcOp::connect: err = q.addr.family == AF_UNSPEC ? stream_disconnect(s) : stream_connect(s, q); break;
    case SvcOp::getsockname: err = stream_name(s, false, &r.addr); break;
    case SvcOp::getpeername: err = stream_name(s, true, &r.addr); break;
    case SvcOp::setsockopt: err = set_option(s, q); break;
    case SvcOp::getsockopt: err = get_option(s, q, &r); break;
    case SvcOp::shutdown: err = stream_shutdown(s, q.args[0]); break;
    case SvcOp::listen: err = stream_listen(s, q.args[0]); break;
    default: err = EINVAL; break;
  }
  return err != 0 ? failed_reply(err) : r;
}

int SocketService::Impl::stream_bind(AppSocket& s, const SvcAddress& a, const Caller& who) {
  StreamSocket& t = *s.stream;
  if (a.family != AF_INET) return EAFNOSUPPORT;
  inet::UdpEndpoint local = endpoint_of(a);
  // __inet_bind's order: the address, then the privileged port, then "already bound".
  bool usable = local.address.value == 0 || stack_->is_local_address(local.address) ||
                is_multicast(local.address) || is_broadcast(local.address);
  if (!usable) return EADDRNOTAVAIL;
  if (local.port != 0 && local.port < 1024 && !may_bind_privileged_port(who)) return EACCES;
  if (t.binding || t.phase != StreamPhase::unconnected) return EINVAL;
  tcp::Binding options;
  options.reuse_address = t.reuse_address;
  options.reuse_port = t.reuse_port;
  options.owner = s.owner;
  int err = tcp().bind(local.address, local.port, options, &t.binding);
  // A socket its application closed a moment ago may still hold the port: finish those first.
  if (err == EADDRINUSE && local.port != 0 && close_let_go_streams(local.port) > 0)
    err = tcp().bind(local.address, local.port, options, &t.binding);
  return err;
}

int SocketService::Impl::stream_listen(AppSocket& s, int backlog) {
  StreamSocket& t = *s.stream;
  const int clamped = clamp_backlog(backlog, tcp().config().somaxconn);
  if (t.phase == StreamPhase::listening) {  // listen() again changes the backlog (Linux)
    t.listener->set_backlog(clamped);
    return 0;
  }
  if (t.phase != StreamPhase::unconnected) return EINVAL;  // inet_listen: not SS_UNCONNECTED
  bool bound_here = false;
  if (!t.binding) {  // Linux binds an ephemeral port (inet_csk_listen_start)
    tcp::Binding options;
    options.reuse_address = t.reuse_address;
    options.reuse_port = t.reuse_port;
    options.owner = s.owner;
    if (int err = tcp().bind({}, 0, options, &t.binding)) return err == EADDRNOTAVAIL ? EADDRINUSE : err;
    bound_here = true;
  }
  int err = tcp().listen(t.binding, clamped, &t.listener);
  if (err == EADDRINUSE && close_let_go_streams(t.binding->port) > 0)
    err = tcp().listen(t.binding, clamped, &t.listener);
  if (err != 0) {
    if (bound_here) {
      tcp().unbind(t.binding);
      t.binding.reset();
    }
    return err;
  }
  t.phase = StreamPhase::listening;
  t.listener->child_config = t.config;  // children inherit the listener's options, as on Linux
  const uint64_t id = s.id;
  t.listener->on_acceptable = [this, id] {
    if (auto it = sockets_.find(id); it != sockets_.end()) post_hand_off(it->second);
  };
  // The pair holds connections the application has not accepted. Its smallest send buffer makes
  // it full after a few, and then pktd stops taking from the listener: its accept queue fills,
  // then the SYN queue, then cookies, as on Linux when accept() falls behind (stream_accept.cc).
  int smallest = 1;
  setsockopt(s.fd, SOL_SOCKET, SO_SNDBUF, &smallest, sizeof smallest);
  arm_stream(s);
  return 0;
}

int SocketService::Impl::stream_connect(AppSocket& s, const SvcRequest& q) {
  StreamSocket& t = *s.stream;
  const bool wait = q.args[0] == 1;  // a blocking connect: reply when the handshake is decided
  switch (t.phase) {
    case StreamPhase::listening:
    case StreamPhase::connected: return EISCONN;
    case StreamPhase::failed: {
      int error = t.error;
      t.error = 0;
      return error != 0 ? error : ECONNABORTED;
    }
    case StreamPhase::connecting: {
      // __inet_stream_connect for SS_CONNECTING: the outcome if there is one, else EALREADY, or
      // a blocking wait for it.
      if (t.connection->was_established()) {
        t.phase = StreamPhase::connected;
        return 0;
      }
      if (t.connection->state() == State::closed) {
        t.phase = StreamPhase::failed;
        int error = t.error;
        t.error = 0;
        return error != 0 ? error : ECONNABORTED;
      }
      if (!wait || serving_client_ == 0) return EALREADY;
      t.waiters.push_back({serving_client_, q.seq});
      reply_deferred_ = true;
      ++counters_.connects_waited;
      return 0;
    }
    case StreamPhase::unconnected: break;
  }
  if (q.addr.family != AF_INET) return EAFNOSUPPORT;
  inet::UdpEndpoint remote = endpoint_of(q.addr);
  if (remote.address.value == 0) remote.address = {0x7F000001};  // Linux: INADDR_ANY is this host
  // tcp_v4_connect: a route to a broadcast or multicast address is unreachable for TCP.
  if (is_broadcast(remote.address) || is_multicast(remote.address)) return ENETUNREACH;
  std::shared_ptr<tcp::Connection> c;
  int err = tcp().connect(t.binding, remote.address, remote.port, t.config, now(), &c);
  if (err != 0) return err;
  t.phase = StreamPhase::connecting;
  start_relay(s, std::move(c));
  // The end stays unwritable until the handshake is decided, as Linux's (tcp_poll: no POLLOUT
  // in SYN-SENT). A blocking connect too: one that SO_SNDTIMEO or a signal cuts short goes on,
  // and the program may then poll for its outcome.
  hold_for_handshake(s);
  arm_stream(s);
  if (!wait || serving_client_ == 0) return EINPROGRESS;
  t.waiters.push_back({serving_client_, q.seq});
  reply_deferred_ = true;
  ++counters_.connects_waited;
  return 0;
}

// connect(AF_UNSPEC): Linux's tcp_disconnect, an abortive close. pktd's pair cannot be reopened,
// so the socket cannot connect again (docs/sockets.md); a listener stops listening.
int SocketService::Impl::stream_disconnect(AppSocket& s) {
  StreamSocket& t = *s.stream;
  if (t.phase == StreamPhase::listening) {
    t.listener->on_acceptable = nullptr;
    t.listener->close(now());
    t.listener.reset();
    t.phase = StreamPhase::unconnected;
    return 0;
  }
  if (!t.connection) return 0;
  if (t.connection->state() != State::closed) t.connection->abort(now());
  t.phase = StreamPhase::failed;
  shut_pair(s, SHUT_RDWR);
  drop_hold(s);  // a handshake abandoned: the end is writable again (and its writes fail)
  return 0;
}

void SocketService::Impl::start_relay(AppSocket& s, std::shared_ptr<tcp::Connection> c) {
  StreamSocket& t = *s.stream;
  t.connection = std::move(c);
  by_connection_[t.connection.get()] = s.id;
  t.stream = std::make_unique<TcpStream>(*t.connection, rt_.clock());
  t.stream->resets_instead = [this, id = s.id] { return closes_abortively(id); };
  t.relay = std::make_unique<StreamRelay>(s.fd, [this](int fd) {
    ++counters_.descriptors_refused;  // a stream carries bytes only
    closer_.close_later(fd);
  });
}

int SocketService::Impl::stream_name(AppSocket& s, bool peer, SvcAddress* out) {
  StreamSocket& t = *s.stream;
  if (!peer) {
    if (t.connection) {
      const tcp::Endpoints& e = t.connection->endpoints();
      *out = address_of({e.local, e.local_port});
    } else if (t.binding) {
      *out = address_of({t.binding->address, t.binding->port});
    } else {
      *out = address_of(inet::UdpEndpoint{});
    }
    return 0;
  }
  // inet_getname: no peer before the SYN-ACK or after the connection has closed.
  if (!t.connection || !synchronized_state(t.connection->state())) return ENOTCONN;
  const tcp::Endpoints& e = t.connection->endpoints();
  *out = address_of({e.remote, e.remote_port});
  return 0;
}

// The pair's two directions, named from pktd's end: SHUT_RD stops the application's writes (they
// fail with EPIPE), SHUT_WR gives it end of file after what is queued.
void SocketService::Impl::shut_pair(AppSocket& s, int how) {
  StreamSocket& t = *s.stream;
  bool rd = how != SHUT_WR && !t.pair_read_shut, wr = how != SHUT_RD && !t.pair_write_shut;
  if (rd && wr) ::shutdown(s.fd, SHUT_RDWR);
  else if (rd) ::shutdown(s.fd, SHUT_RD);
  else if (wr) ::shutdown(s.fd, SHUT_WR);
  t.pair_read_shut = t.pair_read_shut || rd;
  t.pair_write_shut = t.pair_write_shut || wr;
}

int SocketService::Impl::stream_shutdown(AppSocket& s, int how) {
  if (how < SHUT_RD || how > SHUT_RDWR) return EINVAL;
  StreamSocket& t = *s.stream;
  const bool rd = how != SHUT_WR, wr = how != SHUT_RD;
  if (t.phase == StreamPhase::listening) {
    // inet_shutdown: SHUT_RD stops a listener (tcp_disconnect); an accept() waiting in another
    // thread wakes (libpkt answers it EINVAL).
    if (!rd) return 0;
    stream_disconnect(s);
    shut_pair(s, SHUT_WR);
    arm_stream(s);
    return 0;
  }
  if (!t.connection || t.connection->state() == State::closed) {
    // Linux answers ENOTCONN, yet sets the shutdown, waking readers and failing writers.
    shut_pair(s, (rd ? 1 : 0) + (wr ? 1 : 0) == 2 ? SHUT_RDWR : rd ? SHUT_WR : SHUT_RD);
    arm_stream(s);
    return ENOTCONN;
  }
  State st = t.connection->state();
  if (st == State::syn_sent || st == State::syn_received) {  // inet_shutdown: tcp_disconnect
    stream_disconnect(s);
    arm_stream(s);
    return 0;
  }
  if (wr && !t.pair_read_shut) {
    // The application's later writes fail with EPIPE (Linux's SEND_SHUTDOWN); what it wrote
    // before is still read, and then the relay sends the FIN (tcp_shutdown).
    shut_pair(s, SHUT_RD);
  }
  if (rd) {
    // What is queued is still read, then end of file; what arrives later is discarded (Linux
    // would still queue it: docs/sockets.md).
    t.read_shut = true;
    shut_pair(s, SHUT_WR);
  }
  service_stream(s, false);
  return 0;
}

}  // namespace pktd::sockets
