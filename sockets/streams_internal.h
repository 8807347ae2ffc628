// Helpers the stream files share (internal to sockets/).
#pragma once

#include <poll.h>

#include <string>

#include "ctl/socket_protocol.h"

namespace pktd::sockets {

inline ctl::SvcReply failed_reply(int error) {
  ctl::SvcReply r;
  r.result = -1;
  r.error = error;
  return r;
}

// The hang-up (POLLHUP: both directions of the pair are shut) or error (POLLERR: the
// application's end went with bytes it had not read) pktd's end reports now, if any.
inline short hangup_events(int fd) {
  pollfd p{fd, 0, 0};
  return poll(&p, 1, 0) == 1 ? static_cast<short>(p.revents & (POLLHUP | POLLERR)) : 0;
}

}  // namespace pktd::sockets
