#include "sockets/stream_relay.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace pktd::sockets {

PumpResult StreamRelay::pump_out(StreamConnection& c, std::span<std::byte> scratch) {
  if (out_finished_) return PumpResult::finished;
  for (;;) {
    size_t room = std::min(c.send_room(), scratch.size());
    if (room == 0) return PumpResult::blocked;  // the application's bytes wait in the pair
    ssize_t n = recv(fd_, scratch.data(), room, MSG_DONTWAIT);
    if (n > 0) {
      c.send(scratch.first(static_cast<size_t>(n)));
      continue;
    }
    if (n == 0) {
      out_finished_ = true;
      c.finish_sending();
      return PumpResult::finished;
    }
    if (errno == EINTR) continue;
    return errno == EAGAIN ? PumpResult::blocked : PumpResult::failed;
  }
}

PumpResult StreamRelay::pump_in(StreamConnection& c) {
  for (;;) {
    std::span<const std::byte> data = c.received();
    if (data.empty()) {
      if (c.peer_finished() && !in_finished_) {
        shutdown(fd_, SHUT_WR);  // the application reads end of file after the last byte
        in_finished_ = true;
      }
      return PumpResult::blocked;
    }
    ssize_t n = send(fd_, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      c.consume(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN ? PumpResult::blocked : PumpResult::failed;
  }
}

}  // namespace pktd::sockets
