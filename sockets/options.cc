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

// Options Linux accepts on a UDP socket that pktd keeps and reports back but does not act on
// yet (docs/sockets.md lists them): refusing them would stop programs that set them in passing.
bool accepted_without_effect(int level, int name) {
  if (level == SOL_SOCKET)
    return name == SO_PRIORITY || name == SO_RCVLOWAT || name == SO_DONTROUTE ||
           name == SO_TIMESTAMP || name == SO_TIMESTAMPNS;
  if (level == IPPROTO_IP)
    return name == IP_MTU_DISCOVER || name == IP_RECVERR || name == IP_MULTICAST_TTL ||
           name == IP_MULTICAST_LOOP || name == IP_PKTINFO || name == IP_RECVTOS ||
           name == IP_RECVTTL;
  return false;
}

// What one of those reads back: the value set, else Linux's default.
int stored(const SocketOptions& o, int level, int name) {
  auto it = o.without_effect.find({level, name});
  if (it != o.without_effect.end()) return it->second;
  bool default_one = level == IPPROTO_IP && (name == IP_MTU_DISCOVER || name == IP_MULTICAST_TTL ||
                                             name == IP_MULTICAST_LOOP);  // WANT, 1, on
  return default_one ? 1 : 0;
}

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

int SocketService::Impl::set_option(AppSocket& s, const ctl::SvcRequest& q) {
  if (s.stream) return set_stream_option(s, q);
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
        // What pktd may queue towards the application is its end's send buffer. The kernel
        // treats that value as Linux treats SO_RCVBUF: doubled (room for bookkeeping) and
        // clamped by a sysctl (wmem_max here, rmem_max there; both 212992 by default), which
        // also bounds what one socket can make pktd hold.
        int asked = std::max(v, 0);
        return setsockopt(s.fd, SOL_SOCKET, SO_SNDBUF, &asked, sizeof asked) == 0 ? 0 : errno;
      }
      default:
        if (!accepted_without_effect(level, name)) return ENOPROTOOPT;
        o.without_effect[{level, name}] = v;
        return 0;
    }
  }
  if (level == IPPROTO_IP) {
    switch (name) {
      case IP_TTL:
        if (v != -1 && (v < 1 || v > 255)) return EINVAL;
        o.ttl = v;
        return 0;
      case IP_TOS: o.tos = v & 0xFF; return 0;
      default:
        if (!accepted_without_effect(level, name)) return ENOPROTOOPT;
        o.without_effect[{level, name}] = v;
        return 0;
    }
  }
  // IPPROTO_TCP, IPPROTO_IPV6, SOL_UDP, ...: a Linux UDP/IPv4 socket answers ENOPROTOOPT.
  return ENOPROTOOPT;
}

int SocketService::Impl::get_option(AppSocket& s, const ctl::SvcRequest& q, ctl::SvcReply* r) {
  if (s.stream) return get_stream_option(s, q, r);
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
      case SO_RCVBUF: {
        int size = 0;
        socklen_t len = sizeof size;
        if (getsockopt(s.fd, SOL_SOCKET, SO_SNDBUF, &size, &len) != 0) return errno;
        write_int(r, wanted, size);
        return 0;
      }
      case SO_ACCEPTCONN: write_int(r, wanted, 0); return 0;  // datagram sockets never listen
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
      default: break;
    }
  }
  if (level == IPPROTO_IP) {
    switch (name) {
      case IP_TTL: write_int(r, wanted, o.ttl == -1 ? stack_->config().default_ttl : o.ttl); return 0;
      case IP_TOS: write_int(r, wanted, o.tos); return 0;
      default: break;
    }
  }
  if (accepted_without_effect(level, name)) {
    write_int(r, wanted, stored(o, level, name));
    return 0;
  }
  return ENOPROTOOPT;
}

}  // namespace pktd::sockets
