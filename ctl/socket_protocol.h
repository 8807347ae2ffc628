// The socket service's wire format, shared by pktd (sockets/) and libpkt (client/).
// docs/sockets.md explains the design; this file is the contract.
//
// Two channels:
//  1. The service socket: one SOCK_SEQPACKET Unix connection per client process to
//     socket_service_path(instance). Fixed-size binary requests and replies (SvcRequest,
//     SvcReply), strictly one reply per request, in order. A request that names a socket carries
//     that socket's fd (the application's end) as its only SCM_RIGHTS descriptor: holding the fd
//     is the right to use the socket, so a client cannot touch another client's sockets. The
//     reply to `socket` carries the new socket's fd the same way.
//  2. The socket's own fd: one end of a Unix socketpair whose other end pktd holds. Datagram
//     sockets use SOCK_SEQPACKET; every message in either direction is a DgramHeader followed by
//     the payload. A message of 0 bytes (end of file) means pktd has gone. Stream sockets use
//     SOCK_STREAM and carry the connection's bytes as they are; end of file is the peer's FIN, or
//     the connection's end (a pending error is then SO_ERROR's). A listening stream's pair
//     carries each accepted connection as one message: the peer's SvcAddress (28 octets) with
//     the new socket's fd as SCM_RIGHTS.
//
// The application's end is bound to an abstract Unix name that identifies it after exec or when
// received from elsewhere: "\0pktd:<family>:<type>:<protocol>:<token>:<instance>" (decimal
// numbers, the token random, the type without flags). libpkt finds the service of that
// instance the same way as for socket().
//
// Which service: $PKTD_SVC (a path), else $PKTD_SOCK (the control socket's path) with ".sock"
// replaced by ".svc", else socket_service_path($PKTD_INSTANCE or "0").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace pktd::ctl {

inline constexpr uint32_t kSvcVersion = 2;  // 2: options up to 256 octets (TCP_INFO)
inline constexpr char kSocketNamePrefix[] = "pktd:";  // after the leading NUL

// Address in the protocol: IPv4 in addr[0..3] (network order); port in host order.
struct SvcAddress {
  uint16_t family = 0;  // AF_UNSPEC (0), AF_INET, AF_INET6
  uint16_t port = 0;
  uint32_t scope_id = 0;
  uint32_t flowinfo = 0;
  uint8_t addr[16] = {};
};
static_assert(sizeof(SvcAddress) == 28);

enum class SvcOp : uint32_t {
  socket = 1,       // args: domain, type (without SOCK_NONBLOCK/CLOEXEC), protocol -> reply fd
  bind = 2,         // addr
  connect = 3,      // addr; family AF_UNSPEC dissolves the association (UDP) or aborts (TCP);
                    // args[0] 1 (streams): reply only when the handshake is decided, and read
                    // no further request from this connection meanwhile (a blocking connect;
                    // libpkt sends it on a connection of its own), else EINPROGRESS at once
  getsockname = 4,  // -> addr
  getpeername = 5,  // -> addr (ENOTCONN when not connected)
  setsockopt = 6,   // args: level, name; opt, optlen
  getsockopt = 7,   // args: level, name, optlen wanted -> opt, optlen
  shutdown = 8,     // args: how
  listen = 9,       // args: backlog (streams; EOPNOTSUPP on datagram sockets)
};

// Room for Linux's struct tcp_info (232 octets in Linux 6.1) and TCP_MD5SIG's 216.
inline constexpr size_t kSvcMaxOpt = 256;

struct SvcRequest {
  uint32_t version = kSvcVersion;
  SvcOp op = SvcOp::socket;
  uint64_t seq = 0;      // echoed in the reply
  int32_t args[4] = {};
  SvcAddress addr;
  uint32_t optlen = 0;
  uint8_t opt[kSvcMaxOpt] = {};
};

struct SvcReply {
  uint32_t version = kSvcVersion;
  SvcOp op = SvcOp::socket;
  uint64_t seq = 0;
  int32_t result = 0;  // >= 0 on success (the socket id for `socket`)
  int32_t error = 0;   // an errno when result < 0
  SvcAddress addr;
  uint32_t optlen = 0;
  uint8_t opt[kSvcMaxOpt] = {};
};

// Every message on a datagram socket's pair begins with this.
enum class DgramKind : uint16_t {
  data = 1,   // both directions; addr: destination (app -> pktd, AF_UNSPEC: the connected peer)
              // or source (pktd -> app)
  error = 2,  // pktd -> app: a pending error (e.g. ECONNREFUSED from ICMP port unreachable on a
              // connected UDP socket); recv returns -1 with this errno. No payload.
};

struct DgramHeader {
  DgramKind kind = DgramKind::data;
  uint16_t flags = 0;  // reserved, 0
  int32_t error = 0;   // kind error: the errno
  SvcAddress addr;
};
static_assert(sizeof(DgramHeader) == 36);

// The largest UDP payload over IPv4 (65535 - 20 - 8); larger sends fail with EMSGSIZE.
inline constexpr size_t kMaxUdpPayload = 65507;

// run_directory() + "/" + instance + ".svc"
std::string socket_service_path(const std::string& instance);

}  // namespace pktd::ctl
