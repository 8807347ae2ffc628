// Descriptor calls: close, dup*, fcntl and ioctl are native; libpkt keeps its
// table in step.
#include <fcntl.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>

#include "client/api.h"
#include "client/core.h"
#include "client/dgram.h"
#include "client/native.h"
#include "client/service.h"

using namespace pktd::client;

namespace {

// newfd has been replaced by a duplicate: if it was libpkt's service
// connection, libpkt lets go of it.
void before_replacing(int fd, int newfd) {
  if (fd != newfd) service::release_if_connection(newfd);
}

int after_duplicating(int fd, int newfd) {
  if (newfd >= 0 && newfd != fd) fd_table::copy(fd, newfd);
  return newfd;
}

}  // namespace

extern "C" {

// The native close: pktd sees the socket go when the last copy in any process
// is closed.
int pkt_close(int fd) {
  service::release_if_connection(fd);
  fd_table::forget(fd);
  return native::close(fd);
}

// What close does, for a range: CLOSE_RANGE_CLOEXEC closes nothing (yet).
int pktd_client_close_range(unsigned int first, unsigned int last, int flags) {
  if ((static_cast<unsigned>(flags) & CLOSE_RANGE_CLOEXEC) == 0) {
    service::release_connections_in(first, last);
    fd_table::forget_range(first, last);
  }
  return native::close_range(first, last, flags);
}

void pktd_client_closefrom(int lowfd) {
  unsigned first = lowfd < 0 ? 0u : static_cast<unsigned>(lowfd);
  service::release_connections_in(first, ~0u);
  fd_table::forget_range(first, ~0u);
  native::closefrom(lowfd);
}

int pkt_dup(int fd) { return after_duplicating(fd, native::dup(fd)); }

// newfd's old meaning is let go only once the call has replaced it: a failed dup2 leaves it as it
// was (a call racing it on a service connection notices the change by its identity check).
int pkt_dup2(int fd, int newfd) {
  int r = native::dup2(fd, newfd);
  if (r >= 0) before_replacing(fd, newfd);
  return after_duplicating(fd, r);
}

int pkt_dup3(int fd, int newfd, int flags) {
  int r = native::dup3(fd, newfd, flags);
  if (r >= 0) before_replacing(fd, newfd);
  return after_duplicating(fd, r);
}

// O_NONBLOCK and FD_CLOEXEC live on the application's end, so all of fcntl is
// native.
int pkt_fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);  // what the C library does: int or pointer, one register
  va_end(ap);
  int r = native::fcntl(fd, cmd, arg);
  if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) after_duplicating(fd, r);
  return r;
}

// FIONREAD (SIOCINQ) on a datagram socket is the next datagram's size; the rest
// is native (FIONBIO sets O_NONBLOCK on the application's end).
int pkt_ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (request == FIONREAD) {
    std::optional<SocketInfo> s = fd_table::find(fd);
    if (s && !s->is_stream()) {
      if (arg == nullptr) return fail(EFAULT);
      int size = dgram::next_datagram_size(fd);
      std::memcpy(arg, &size, sizeof size);
      return 0;
    }
  }
  return native::ioctl(fd, request, arg);
}

}  // extern "C"
