// getsockopt and setsockopt. Most options are pktd's; a few are answered here
// because the native answer would describe the Unix pair (SO_TYPE, SO_DOMAIN,
// SO_PROTOCOL, SO_ERROR of a datagram socket), and a few belong to the pair
// itself (timeouts and the send buffer: the application's sends and receives
// block on it).
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "client/api.h"
#include "client/core.h"
#include "client/dgram.h"
#include "client/native.h"

using namespace pktd::client;
using pktd::ctl::kSvcMaxOpt;
using pktd::ctl::SvcOp;
using pktd::ctl::SvcReply;
using pktd::ctl::SvcRequest;

namespace {

bool is_timeout(int name) {
  switch (name) {
    case SO_RCVTIMEO:
    case SO_SNDTIMEO:
#if defined(SO_RCVTIMEO_NEW) && SO_RCVTIMEO_NEW != SO_RCVTIMEO
    case SO_RCVTIMEO_NEW:
    case SO_SNDTIMEO_NEW:
#endif
#if defined(SO_RCVTIMEO_OLD) && SO_RCVTIMEO_OLD != SO_RCVTIMEO
    case SO_RCVTIMEO_OLD:
    case SO_SNDTIMEO_OLD:
#endif
      return true;
    default:
      return false;
  }
}

bool belongs_to_pair(int level, int name) {
  return level == SOL_SOCKET && (is_timeout(name) || name == SO_SNDBUF);
}

// An int option as the kernel returns it: truncated to *len.
int int_answer(int value, void* val, socklen_t* len) {
  socklen_t n = std::min<socklen_t>(*len, sizeof value);
  if (n > 0 && val == nullptr) return fail(EFAULT);
  if (n > 0) std::memcpy(val, &value, n);
  *len = n;
  return 0;
}

// Answered here, or false.
bool local_answer(int fd, const SocketInfo& s, int level, int name, int* value) {
  if (level != SOL_SOCKET) return false;
  switch (name) {
    case SO_TYPE:
      *value = s.type;
      return true;
    case SO_DOMAIN:
      *value = s.family;
      return true;
    case SO_PROTOCOL:
      *value = s.protocol;
      return true;
    case SO_ERROR:
      if (s.is_stream()) return false;  // a stream's error is pktd's (connect in progress)
      *value = dgram::take_pending_error(fd);
      return true;
    default:
      return false;
  }
}

int get_option(int fd, const SocketInfo& s, int level, int name, void* val, socklen_t* len) {
  if (len == nullptr) return fail(EFAULT);
  if (static_cast<int>(*len) < 0) return fail(EINVAL);
  if (belongs_to_pair(level, name)) return native::getsockopt(fd, level, name, val, len);
  int value;
  if (local_answer(fd, s, level, name, &value)) return int_answer(value, val, len);
  SvcRequest req;
  req.op = SvcOp::getsockopt;
  req.args[0] = level;
  req.args[1] = name;
  req.args[2] = static_cast<int>(std::min<size_t>(*len, kSvcMaxOpt));
  SvcReply reply;
  if (ask(fd, s, req, &reply) < 0) return -1;
  socklen_t n = static_cast<socklen_t>(std::min<size_t>({reply.optlen, *len, kSvcMaxOpt}));
  if (n > 0 && val == nullptr) return fail(EFAULT);
  if (n > 0) std::memcpy(val, reply.opt, n);
  *len = n;
  return 0;
}

int set_option(int fd, const SocketInfo& s, int level, int name, const void* val, socklen_t len) {
  if (static_cast<int>(len) < 0) return fail(EINVAL);
  if (len > 0 && val == nullptr) return fail(EFAULT);
  if (belongs_to_pair(level, name)) {
    // A stream's send buffer is the pair's (where the application's writes
    // block) and the connection's (what pktd holds unacknowledged): both.
    int r = native::setsockopt(fd, level, name, val, len);
    if (r != 0 || !s.is_stream() || name != SO_SNDBUF) return r;
  }
  if (len > kSvcMaxOpt) return fail(EINVAL);
  SvcRequest req;
  req.op = SvcOp::setsockopt;
  req.args[0] = level;
  req.args[1] = name;
  req.optlen = len;
  if (len > 0) std::memcpy(req.opt, val, len);
  return ask(fd, s, req) < 0 ? -1 : 0;
}

}  // namespace

extern "C" {

int pkt_getsockopt(int fd, int level, int name, void* optval, socklen_t* optlen) {
  return dispatch(
      fd, [&](const SocketInfo& s) { return get_option(fd, s, level, name, optval, optlen); },
      [&] { return native::getsockopt(fd, level, name, optval, optlen); });
}

int pkt_setsockopt(int fd, int level, int name, const void* optval, socklen_t optlen) {
  return dispatch(
      fd, [&](const SocketInfo& s) { return set_option(fd, s, level, name, optval, optlen); },
      [&] { return native::setsockopt(fd, level, name, optval, optlen); });
}

}  // extern "C"
