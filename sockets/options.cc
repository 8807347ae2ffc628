// getsockopt and setsockopt on an application's socket, with Linux's answers: the same values,
// the same clamping, ENOPROTOOPT for what a Linux UDP socket does not know. Options that live on
// the application's own fd (SO_RCVTIMEO, SO_SNDTIMEO, SO_SNDBUF) and SO_ERROR, SO_TYPE, SO_DOMAIN
// and SO_PROTOCOL are answered by libpkt without asking (docs/sockets.md).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "sockets/service_internal.h"

namespace pktd::sockets {

namespace {

constexpr uint32_t kMinReceiveBuffer = 2304;  // Linux SOCK_MIN_RCVBUF, as reported (doubled)

// The int an option carries. Linux takes a single byte for the IP options too.
bool read_int(const ctl::SvcRequest& q, bool byte_ok, int* value) {
  if (q.optlen >= sizeof(int)) {
    std::memcpy(value, q.opt, sizeof(int));
    return true;
  }
  if (byte_ok && q.optlen >= 1) {
    *value = q.opt[0];
    return true;
  }
  return false;
}

void write_int(ctl::SvcReply* r, uint32_t wanted, int value) {
  r->optlen = std::min<uint32_t>(wanted, sizeof(int));
  if (r->optlen < sizeof(int)) {
    r->opt[0] = static_cast<uint8_t>(value);
    return;
  }
  std::memcpy(r->opt, &value, sizeof(int));
}

}  // namespace

int SocketService::Impl::set_option(AppSocket& s, const ctl::SvcRequest& q) {
  const int level = q.args[0], name = q.args[1];
  if (q.optlen > ctl::kSvcMaxOpt) return EINVAL;
  SocketOptions& o = s.options;
  if (level == SOL_SOCKET && name == SO_LINGER) {
    if (q.optlen < sizeof(linger)) return EINVAL;
    linger l{};
    std::memcpy(&l, q.opt, sizeof l);
    o.linger_onoff = l.l_onoff != 0 ? 1 : 0;
    o.linger_seconds = l.l_linger;
    return 0;
  }
  int v = 0;
  if (!read_int(q, level == IPPROTO_IP, &v)) return EINVAL;
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_REUSEADDR: s.udp->reuse_address = v != 0; return 0;
      case SO_REUSEPORT: s.udp->reuse_port = v != 0; return 0;
      case SO_BROADCAST: o.broadcast = v != 0; return 0;
      case SO_KEEPALIVE: o.keepalive = v != 0; return 0;
      case SO_RCVBUF: {
        // Linux doubles the value (room for bookkeeping) within [SOCK_MIN_RCVBUF, 2*rmem_max].
        uint32_t asked = static_cast<uint32_t>(std::max(v, 0));
        o.receive_buffer = std::max(kMinReceiveBuffer, 2 * std::min(asked, limits_.receive_buffer_max));
        // What pktd may queue towards the application is its end's send buffer (the kernel
        // doubles it in turn). FORCE passes wmem_max when pktd may; else the kernel clamps.
        int half = static_cast<int>(o.receive_buffer / 2);
        if (setsockopt(s.fd, SOL_SOCKET, SO_SNDBUFFORCE, &half, sizeof half) != 0)
          setsockopt(s.fd, SOL_SOCKET, SO_SNDBUF, &half, sizeof half);
        return 0;
      }
      default: return ENOPROTOOPT;
    }
  }
  if (level == IPPROTO_IP) {
    switch (name) {
      case IP_TTL:
        if (v != -1 && (v < 1 || v > 255)) return EINVAL;
        o.ttl = v;
        return 0;
      case IP_TOS: o.tos = v & 0xFF; return 0;
      default: return ENOPROTOOPT;
    }
  }
  // IPPROTO_TCP, IPPROTO_IPV6, SOL_UDP, ...: a Linux UDP/IPv4 socket answers ENOPROTOOPT.
  return ENOPROTOOPT;
}

int SocketService::Impl::get_option(AppSocket& s, const ctl::SvcRequest& q, ctl::SvcReply* r) {
  const int level = q.args[0], name = q.args[1];
  const uint32_t wanted = static_cast<uint32_t>(std::max(q.args[2], 0));
  if (q.args[2] < 0) return EINVAL;
  const SocketOptions& o = s.options;
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_REUSEADDR: write_int(r, wanted, s.udp->reuse_address); return 0;
      case SO_REUSEPORT: write_int(r, wanted, s.udp->reuse_port); return 0;
      case SO_BROADCAST: write_int(r, wanted, o.broadcast); return 0;
      case SO_KEEPALIVE: write_int(r, wanted, o.keepalive); return 0;
      case SO_RCVBUF: write_int(r, wanted, static_cast<int>(o.receive_buffer)); return 0;
      case SO_TYPE: write_int(r, wanted, s.type); return 0;
      case SO_DOMAIN: write_int(r, wanted, s.family); return 0;
      case SO_PROTOCOL: write_int(r, wanted, s.protocol); return 0;
      case SO_ERROR: write_int(r, wanted, 0); return 0;  // pending errors travel on the socket
      case SO_LINGER: {
        linger l{o.linger_onoff, o.linger_seconds};
        r->optlen = std::min<uint32_t>(wanted, sizeof l);
        std::memcpy(r->opt, &l, r->optlen);
        return 0;
      }
      default: return ENOPROTOOPT;
    }
  }
  if (level == IPPROTO_IP) {
    switch (name) {
      case IP_TTL: write_int(r, wanted, o.ttl == -1 ? stack_->config().default_ttl : o.ttl); return 0;
      case IP_TOS: write_int(r, wanted, o.tos); return 0;
      default: return ENOPROTOOPT;
    }
  }
  return ENOPROTOOPT;
}

}  // namespace pktd::sockets
