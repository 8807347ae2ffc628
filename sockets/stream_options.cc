// getsockopt and setsockopt on a TCP socket, with Linux's answers (net/core/sock.c, tcp.c): the
// same defaults, ranges and clamping, ENOPROTOOPT for what Linux refuses. An option set before
// the connection exists goes into the ConnectionConfig it will start with (a listener's children
// inherit it); one set after goes to the connection as well.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <string>

#include "sockets/service_internal.h"
#include "transport/tcp/congestion.h"

namespace pktd::sockets {

namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;
using tcp::State;

constexpr int kRmemMax = 212992, kWmemMax = 212992;    // Linux's net.core defaults
constexpr int kMinReceiveBuffer = 2304;                 // SOCK_MIN_RCVBUF
constexpr int kMinSendBuffer = 4608;                    // SOCK_MIN_SNDBUF
constexpr int kDefaultReceiveBuffer = 131072;           // tcp_rmem[1], as SO_RCVBUF reports it
constexpr int kDefaultSendBuffer = 16384;               // tcp_wmem[1]
constexpr int kMaxKeepIdle = 32767, kMaxKeepCount = 127;  // MAX_TCP_KEEPIDLE/KEEPINTVL, KEEPCNT
constexpr int kMinMss = 88, kMaxWindow = 32767;         // TCP_MIN_MSS, MAX_TCP_WINDOW
constexpr uint16_t kDefaultMss = 536;                   // TCP_MSS_DEFAULT, before a connection
constexpr size_t kCongestionNameMax = 16;               // TCP_CA_NAME_MAX

// TCP options Linux accepts that pktd keeps and reads back without acting on them
// (docs/sockets.md): refusing them would stop programs that set them in passing.
bool tcp_without_effect(int name) {
  switch (name) {
    case TCP_QUICKACK: case TCP_DEFER_ACCEPT: case TCP_FASTOPEN: case TCP_FASTOPEN_CONNECT:
    case TCP_CORK: case TCP_NOTSENT_LOWAT: case TCP_SYNCNT: case TCP_LINGER2:
    case TCP_WINDOW_CLAMP:
      return true;
    default:
      return false;
  }
}

int tcp_default(int name) {
  switch (name) {
    case TCP_QUICKACK: return 1;  // not in the "pingpong" mode
    case TCP_SYNCNT: return 6;    // tcp_syn_retries
    case TCP_LINGER2: return 60;  // tcp_fin_timeout
    default: return 0;
  }
}

// Linux's tcpi_state numbers (include/net/tcp_states.h).
uint8_t linux_state(State s) {
  switch (s) {
    case State::established: return 1;
    case State::syn_sent: return 2;
    case State::syn_received: return 3;
    case State::fin_wait_1: return 4;
    case State::fin_wait_2: return 5;
    case State::time_wait: return 6;
    case State::closed: return 7;
    case State::close_wait: return 8;
    case State::last_ack: return 9;
    case State::listen: return 10;
    case State::closing: return 11;
  }
  return 7;
}

uint32_t micros(time::Duration d) { return static_cast<uint32_t>(duration_cast<microseconds>(d).count()); }

// struct tcp_info as far as <netinet/tcp.h> has it (up to tcpi_total_retrans, 104 octets); a
// caller asking for Linux's longer structure gets zeros after that.
tcp_info describe(const StreamSocket& t) {
  tcp_info info{};
  info.tcpi_state = t.listener ? 10 : t.connection ? linux_state(t.connection->state()) : 7;
  info.tcpi_reordering = 3;  // tcp_reordering
  if (!t.connection) {
    info.tcpi_snd_mss = info.tcpi_rcv_mss = info.tcpi_advmss = kDefaultMss;
    return info;
  }
  const tcp::Connection& c = *t.connection;
  const uint32_t mss = std::max<uint32_t>(c.smss(), 1);
  info.tcpi_backoff = static_cast<uint8_t>(std::min<uint32_t>(c.rto().backoff_count(), 255));
  info.tcpi_options = (c.timestamps_enabled() ? TCPI_OPT_TIMESTAMPS : 0) |
                      (c.sack_enabled() ? TCPI_OPT_SACK : 0) |
                      (c.send_window_shift() ? TCPI_OPT_WSCALE : 0);
  info.tcpi_snd_wscale = c.send_window_shift().value_or(0) & 0xF;
  info.tcpi_rto = micros(c.rto().rto());
  info.tcpi_ato = micros(c.config().delayed_ack);
  info.tcpi_snd_mss = c.smss();
  info.tcpi_rcv_mss = c.config().mss;  // what we announced: the most the peer sends
  info.tcpi_advmss = c.config().mss;
  info.tcpi_pmtu = c.smss() + 40;
  auto in_flight = static_cast<uint32_t>(std::max(c.snd_nxt() - c.snd_una(), 0));
  info.tcpi_unacked = (in_flight + mss - 1) / mss;
  info.tcpi_rtt = micros(c.rto().srtt());
  info.tcpi_rttvar = micros(c.rto().rttvar());
  info.tcpi_snd_cwnd = c.cwnd() / mss;
  // Linux shows an untouched slow-start threshold as TCP_INFINITE_SSTHRESH.
  info.tcpi_snd_ssthresh = c.ssthresh() >= 0x7FFFFFFF / 2 ? 0x7FFFFFFF : c.ssthresh() / mss;
  info.tcpi_rcv_space = c.receive_window();
  info.tcpi_total_retrans = static_cast<uint32_t>(c.retransmissions());
  return info;
}

void write_bytes(ctl::SvcReply* r, uint32_t wanted, const void* data, size_t size) {
  r->optlen = static_cast<uint32_t>(std::min<size_t>({wanted, size, ctl::kSvcMaxOpt}));
  std::memcpy(r->opt, data, r->optlen);
}

}  // namespace

int SocketService::Impl::set_stream_option(AppSocket& s, const ctl::SvcRequest& q) {
  const int level = q.args[0], name = q.args[1];
  if (q.optlen > ctl::kSvcMaxOpt) return EINVAL;
  StreamSocket& t = *s.stream;
  tcp::ConnectionConfig& config = t.config;
  tcp::Connection* c = t.connection && t.connection->state() != State::closed ? t.connection.get() : nullptr;
  int err = 0;
  if (level == IPPROTO_TCP && name == TCP_CONGESTION) {
    if (q.optlen < 1) return EINVAL;
    std::string algorithm(reinterpret_cast<const char*>(q.opt),
                          strnlen(reinterpret_cast<const char*>(q.opt), q.optlen));
    if (tcp::make_congestion_control(algorithm, kDefaultMss) == nullptr) return ENOENT;
    if (c != nullptr && !c->set_congestion_control(algorithm)) return ENOENT;
    config.congestion = algorithm;
  } else if (level == SOL_SOCKET && name == SO_LINGER) {
    if (q.optlen < sizeof(linger)) return EINVAL;
    linger l{};
    std::memcpy(&l, q.opt, sizeof l);
    s.options.linger_onoff = l.l_onoff != 0 ? 1 : 0;
    s.options.linger_seconds = l.l_linger;
  } else {
    int v = 0;
    if (!read_int(q, level == IPPROTO_IP, &v)) return EINVAL;
    if (level == SOL_SOCKET) err = set_socket_level(s, name, v);
    else if (level == IPPROTO_IP) err = set_ip_level(s, name, v);
    else if (level == IPPROTO_TCP) err = set_tcp_level(s, name, v);
    else err = ENOPROTOOPT;  // IPPROTO_IPV6, SOL_UDP, ...: a Linux TCP/IPv4 socket says the same
  }
  if (err == 0 && t.listener) t.listener->child_config = config;
  return err;
}

int SocketService::Impl::set_socket_level(AppSocket& s, int name, int v) {
  StreamSocket& t = *s.stream;
  tcp::Connection* c = t.connection && t.connection->state() != State::closed ? t.connection.get() : nullptr;
  switch (name) {
    case SO_REUSEADDR:
      t.reuse_address = v != 0;
      if (t.binding) t.binding->reuse_address = t.reuse_address;  // seen by later binds
      return 0;
    case SO_REUSEPORT:
      t.reuse_port = v != 0;
      if (t.binding) t.binding->reuse_port = t.reuse_port;
      return 0;
    case SO_KEEPALIVE:
      s.options.keepalive = t.config.keepalive = v != 0;
      if (c != nullptr) c->set_keepalive(v != 0, now());
      return 0;
    case SO_RCVBUF: {
      // sock_setsockopt: doubled (room for bookkeeping), clamped by rmem_max, and no auto-tuning
      // after (SOCK_RCVBUF_LOCK). The pair towards the application gets the same bound.
      int size = std::max(std::min(std::max(v, 0), kRmemMax) * 2, kMinReceiveBuffer);
      t.receive_buffer = size;
      t.config.receive_buffer = static_cast<size_t>(size);
      t.config.receive_autotune = false;
      if (c != nullptr) c->set_receive_buffer(static_cast<size_t>(size));
      int half = size / 2;  // the kernel doubles it again
      setsockopt(s.fd, SOL_SOCKET, SO_SNDBUF, &half, sizeof half);
      return 0;
    }
    case SO_SNDBUF: {
      // libpkt sets the pair's own buffer too: that is where the application's writes block.
      int size = std::max(std::min(std::max(v, 0), kWmemMax) * 2, kMinSendBuffer);
      t.send_buffer = size;
      t.config.send_buffer = static_cast<size_t>(size);
      if (c != nullptr) c->set_send_buffer(static_cast<size_t>(size));
      top_up_filler(s);  // a connecting socket's end must stay unwritable (stream_relay.h)
      return 0;
    }
    case SO_BROADCAST: s.options.broadcast = v != 0; return 0;
    case SO_OOBINLINE: s.options.without_effect[{SOL_SOCKET, name}] = v != 0; return 0;
    default:
      if (!accepted_without_effect(SOL_SOCKET, name)) return ENOPROTOOPT;
      s.options.without_effect[{SOL_SOCKET, name}] = v;
      return 0;
  }
}

// IP_TTL and IP_TOS go on the connection's segments from now on, and on those of connections
// to come (a listener's children inherit them).
int SocketService::Impl::set_ip_level(AppSocket& s, int name, int v) {
  StreamSocket& t = *s.stream;
  tcp::Connection* c = t.connection && t.connection->state() != State::closed ? t.connection.get() : nullptr;
  switch (name) {
    case IP_TTL:
      if (v != -1 && (v < 1 || v > 255)) return EINVAL;
      s.options.ttl = v;
      t.config.ttl = static_cast<uint8_t>(v == -1 ? 0 : v);
      if (c != nullptr) c->set_ttl(t.config.ttl);
      return 0;
    case IP_TOS:
      s.options.tos = v & 0xFF;
      t.config.tos = static_cast<uint8_t>(v & 0xFF);
      if (c != nullptr) c->set_tos(t.config.tos);
      return 0;
    default:
      if (!accepted_without_effect(IPPROTO_IP, name)) return ENOPROTOOPT;
      s.options.without_effect[{IPPROTO_IP, name}] = v;
      return 0;
  }
}

int SocketService::Impl::set_tcp_level(AppSocket& s, int name, int v) {
  StreamSocket& t = *s.stream;
  tcp::ConnectionConfig& config = t.config;
  tcp::Connection* c = t.connection && t.connection->state() != State::closed ? t.connection.get() : nullptr;
  switch (name) {
    case TCP_NODELAY:
      config.nodelay = v != 0;
      if (c != nullptr) c->set_nodelay(v != 0, now());
      return 0;
    case TCP_MAXSEG:  // the MSS announced by connections to come (Linux's user_mss)
      if (v != 0 && (v < kMinMss || v > kMaxWindow)) return EINVAL;
      t.user_mss = static_cast<uint16_t>(v);
      config.user_mss = static_cast<uint16_t>(v);
      return 0;
    case TCP_KEEPIDLE:
    case TCP_KEEPINTVL:
      if (v < 1 || v > kMaxKeepIdle) return EINVAL;
      (name == TCP_KEEPIDLE ? config.keepalive_idle : config.keepalive_interval) = seconds(v);
      break;
    case TCP_KEEPCNT:
      if (v < 1 || v > kMaxKeepCount) return EINVAL;
      config.keepalive_probes = static_cast<uint32_t>(v);
      break;
    case TCP_USER_TIMEOUT:
      if (v < 0) return EINVAL;
      config.user_timeout = milliseconds(v);
      if (c != nullptr) c->set_user_timeout(config.user_timeout);
      return 0;
    case TCP_INFO: return ENOPROTOOPT;  // read-only, as on Linux
    default:
      if (!tcp_without_effect(name)) return ENOPROTOOPT;
      s.options.without_effect[{IPPROTO_TCP, name}] = v;
      return 0;
  }
  if (c != nullptr)
    c->set_keepalive_times(config.keepalive_idle, config.keepalive_interval, config.keepalive_probes, now());
  return 0;
}

int SocketService::Impl::get_stream_option(AppSocket& s, const ctl::SvcRequest& q, ctl::SvcReply* r) {
  const int level = q.args[0], name = q.args[1];
  if (q.args[2] < 0) return EINVAL;
  const auto wanted = static_cast<uint32_t>(q.args[2]);
  StreamSocket& t = *s.stream;
  const tcp::Connection* c = t.connection.get();
  const tcp::ConnectionConfig& config = c != nullptr ? c->config() : t.config;
  const SocketOptions& o = s.options;
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_REUSEADDR: write_int(r, wanted, t.reuse_address); return 0;
      case SO_REUSEPORT: write_int(r, wanted, t.reuse_port); return 0;
      case SO_KEEPALIVE: write_int(r, wanted, config.keepalive); return 0;
      case SO_BROADCAST: write_int(r, wanted, o.broadcast); return 0;
      case SO_RCVBUF: write_int(r, wanted, t.receive_buffer != 0 ? t.receive_buffer : kDefaultReceiveBuffer); return 0;
      case SO_SNDBUF: write_int(r, wanted, t.send_buffer != 0 ? t.send_buffer : kDefaultSendBuffer); return 0;
      case SO_ACCEPTCONN: write_int(r, wanted, t.phase == StreamPhase::listening); return 0;
      case SO_TYPE: write_int(r, wanted, s.type); return 0;
      case SO_DOMAIN: write_int(r, wanted, s.family); return 0;
      case SO_PROTOCOL: write_int(r, wanted, s.protocol); return 0;
      case SO_ERROR:  // reported once, as sock_error() clears sk_err
        write_int(r, wanted, t.error);
        t.error = 0;
        return 0;
      case SO_LINGER: {
        linger l{o.linger_onoff, o.linger_seconds};
        write_bytes(r, wanted, &l, sizeof l);
        return 0;
      }
      case SO_OOBINLINE: write_int(r, wanted, stored(o, SOL_SOCKET, name)); return 0;
      default: break;
    }
  } else if (level == IPPROTO_IP) {
    switch (name) {
      case IP_TTL: write_int(r, wanted, o.ttl == -1 ? stack_->config().default_ttl : o.ttl); return 0;
      case IP_TOS: write_int(r, wanted, o.tos); return 0;
      default: break;
    }
  } else if (level == IPPROTO_TCP) {
    return get_tcp_level(s, name, wanted, r);
  }
  if (accepted_without_effect(level, name)) {
    write_int(r, wanted, stored(o, level, name));
    return 0;
  }
  return ENOPROTOOPT;
}

int SocketService::Impl::get_tcp_level(AppSocket& s, int name, uint32_t wanted, ctl::SvcReply* r) {
  const StreamSocket& t = *s.stream;
  const tcp::Connection* c = t.connection.get();
  const tcp::ConnectionConfig& config = c != nullptr ? c->config() : t.config;
  switch (name) {
    case TCP_NODELAY: write_int(r, wanted, config.nodelay); return 0;
    case TCP_MAXSEG: {
      // tcp.c: the connection's MSS once synchronized, else what was set, else 536.
      bool synchronized = c != nullptr && c->is_synchronized();
      write_int(r, wanted, synchronized ? static_cast<int>(c->smss()) : t.user_mss != 0 ? t.user_mss : kDefaultMss);
      return 0;
    }
    case TCP_KEEPIDLE:
      write_int(r, wanted, static_cast<int>(duration_cast<seconds>(config.keepalive_idle).count()));
      return 0;
    case TCP_KEEPINTVL:
      write_int(r, wanted, static_cast<int>(duration_cast<seconds>(config.keepalive_interval).count()));
      return 0;
    case TCP_KEEPCNT: write_int(r, wanted, static_cast<int>(config.keepalive_probes)); return 0;
    case TCP_USER_TIMEOUT:
      write_int(r, wanted, static_cast<int>(duration_cast<milliseconds>(config.user_timeout).count()));
      return 0;
    case TCP_CONGESTION: {
      char text[kCongestionNameMax] = {};
      std::string_view algorithm = c != nullptr ? c->congestion_control() : std::string_view(config.congestion);
      std::memcpy(text, algorithm.data(), std::min(algorithm.size(), sizeof text - 1));
      write_bytes(r, wanted, text, sizeof text);
      return 0;
    }
    case TCP_INFO: {
      tcp_info info = describe(t);
      // Zeros after what <netinet/tcp.h> knows, up to what was asked (Linux's struct is longer).
      uint8_t bytes[ctl::kSvcMaxOpt] = {};
      std::memcpy(bytes, &info, std::min(sizeof info, sizeof bytes));
      write_bytes(r, wanted, bytes, sizeof bytes);
      return 0;
    }
    default:
      if (!tcp_without_effect(name)) return ENOPROTOOPT;
      auto it = s.options.without_effect.find({IPPROTO_TCP, name});
      write_int(r, wanted, it != s.options.without_effect.end() ? it->second : tcp_default(name));
      return 0;
  }
}

}  // namespace pktd::sockets
