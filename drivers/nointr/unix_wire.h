// The "device" of devnp-nointr.so: a Unix datagram socket per end of the link, one Ethernet frame
// per datagram (docs/nointr.md says why). Nothing of pktd here: plain functions returning 0 or an
// errno, so that the driver code around them reads like the seed's.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <cstddef>
#include <string>

namespace pktd_nointr {

struct UnixWire {
  int sock = -1;  // bound to path; read only by the receive thread
  int wake = -1;  // eventfd: how the quiesce callback gets into the receive thread's wait
  std::string path;
  bool bound = false;  // path is ours to remove at close
  dev_t path_dev = 0;  // what path was when we bound it: removed only if it still is
  ino_t path_ino = 0;
  sockaddr_un peer{};
  socklen_t peer_len = 0;
};

// Binds `path` and prepares sends to `peer`. A socket file left by a process that is gone (nothing
// bound: connect is refused) is removed first; anything else at `path` is left alone:
//   EADDRINUSE  a live socket is bound there (another pktd, another program)
//   ENOTSOCK    something that is not a socket is there
// else the errno of socket/bind (ENOENT: the directory does not exist, EACCES, ...).
// On failure `out` holds nothing open.
int open_wire(const std::string& path, const std::string& peer, UnixWire& out);
// Closes both fds and removes the socket file if it is still the one we bound. Idempotent.
void close_wire(UnixWire& wire);

// Whether something is bound at the peer's path right now (a send would not be refused).
bool peer_present(const UnixWire& wire);

// One frame to the peer, never blocking: 0 or an errno. EAGAIN/ENOBUFS: the peer's queue or our
// send buffer is full for now; ENOENT/ECONNREFUSED: no peer bound at its path.
int send_frame(const UnixWire& wire, const void* data, size_t len);

// Blocks until a frame can be read or the wake-up eventfd is signalled (or both).
struct Readiness {
  bool frame = false;
  bool woken = false;
  int error = 0;  // poll failed (not EINTR): an errno
};
Readiness wait_for_frame(const UnixWire& wire);
// Blocks until the wake-up eventfd is signalled: true then, false on EINTR or a poll error.
bool wait_for_wake(const UnixWire& wire);

// Reads one datagram into buf without blocking. 0 and len set (truncated: the datagram was longer
// than cap, len is what was kept), or an errno (EAGAIN: nothing there after all).
int receive_frame(const UnixWire& wire, void* buf, size_t cap, size_t& len, bool& truncated);

// The wake-up eventfd: signal from any thread; drain in the receive thread.
void signal_wake(const UnixWire& wire);
void drain_wake(const UnixWire& wire);

// strerror's text, thread-safe.
const char* error_text(int err);

}  // namespace pktd_nointr
