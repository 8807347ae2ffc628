// The peer connection: one interrupt source on a private epoll set holding our listening socket
// and the connection to the peer. A private set, because the connection comes and goes with
// peers and a source cannot detach itself from its own callback; the set can drop an fd at any
// time. Hellos bring the peer's eventfd (link UP); EOF on the connection means the peer
// detached or died (link DOWN). Runs on a worker.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "softc.h"

namespace devnp_wire {
namespace {

constexpr int kEventsPerCall = 8;
constexpr int kAcceptsPerCall = 8;

void watch(Softc& sc, int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = fd;
  ::epoll_ctl(sc.ctl_epoll, EPOLL_CTL_ADD, fd, &ev);
}

void close_connection(Softc& sc) {
  if (sc.conn_fd < 0) return;
  ::epoll_ctl(sc.ctl_epoll, EPOLL_CTL_DEL, sc.conn_fd, nullptr);
  ::close(sc.conn_fd);
  sc.conn_fd = -1;
  sc.hello_sent = false;
}

// The peer detached or died (or broke the protocol): forget it, under the transmit lock so no
// start is writing to its eventfd as it closes.
void peer_gone(Softc& sc, const char* why) {
  close_connection(sc);
  bool was_up = false;
  {
    TxLock lock(sc);
    was_up = sc.tx.peer_up;
    if (sc.tx.peer_efd >= 0) ::close(sc.tx.peer_efd);
    sc.tx.peer_efd = -1;
    sc.tx.peer_up = false;
    sc.tx.peer_pid = -1;
  }
  if (was_up)
    sc.host.log(PKTD_LOG_INFO, "wire: %s: link %s: the peer %s; link down until another attaches",
                sc.name(), sc.opt.link.c_str(), why);
  set_link(sc, false);
}

void peer_arrived(Softc& sc, const Hello& hello, int efd) {
  pid_t pid = peer_pid(sc.conn_fd);
  {
    TxLock lock(sc);
    sc.tx.peer_efd = efd;
    sc.tx.peer_up = true;
    sc.tx.peer_pid = pid;
    sc.tx.peer_mtu = hello.mtu;
  }
  sc.host.log(PKTD_LOG_INFO, "wire: %s: link %s: peer attached as end %u (pid %d, mtu %u); link up",
              sc.name(), sc.opt.link.c_str(), hello.end, static_cast<int>(pid), hello.mtu);
  set_link(sc, true);
}

// A hello from the other end. If it came to us (we accepted), we answer with ours, after
// skipping what a former peer left in our ring: the newcomer sends only once it has our hello.
void on_hello(Softc& sc, const Hello& hello, int efd) {
  bool expected = hello.end == static_cast<uint32_t>(1 - sc.end);
  bool twice = sc.tx.peer_efd >= 0;  // read without the lock: only this source writes it
  if (!expected || twice) {
    ::close(efd);
    sc.host.log(PKTD_LOG_WARNING,
                "wire: %s: link %s: unexpected hello (end %u%s); dropped the "
                "connection",
                sc.name(), sc.opt.link.c_str(), hello.end,
                twice ? ", a peer is already attached" : "");
    peer_gone(sc, "broke the protocol");
    return;
  }
  if (!sc.hello_sent) {
    rx_resync(sc);
    int err = send_hello(sc.conn_fd, make_hello(sc.end, sc.host.if_mtu(sc.ifp)), sc.rx_efd);
    if (err != 0) {
      ::close(efd);
      peer_gone(sc, "went away before our hello");
      return;
    }
    sc.hello_sent = true;
  }
  peer_arrived(sc, hello, efd);
}

void connection_ready(Softc& sc) {
  for (int i = 0; i < kEventsPerCall && sc.conn_fd >= 0; ++i) {
    Hello hello{};
    int efd = -1;
    switch (receive_hello(sc.conn_fd, hello, efd)) {
      case Received::hello: on_hello(sc, hello, efd); break;
      case Received::again: return;
      case Received::closed: peer_gone(sc, "has gone (detached or died)"); return;
      case Received::malformed:
        sc.host.log(PKTD_LOG_WARNING,
                    "wire: %s: link %s: malformed hello; dropped the "
                    "connection",
                    sc.name(), sc.opt.link.c_str());
        peer_gone(sc, "broke the protocol");
        return;
    }
  }
}

void new_connection(Softc& sc, int fd) {
  if (sc.tx.peer_efd >= 0) {
    // Only the holder of the other end's lock should ever connect; whoever this is, the link
    // already has its two ends.
    sc.host.log(PKTD_LOG_WARNING,
                "wire: %s: link %s: refused a connection from pid %d: the "
                "link already has its two ends",
                sc.name(), sc.opt.link.c_str(), static_cast<int>(peer_pid(fd)));
    ::close(fd);
    return;
  }
  close_connection(sc);  // a newer connection replaces one that never said hello
  sc.conn_fd = fd;
  watch(sc, fd);
}

void accept_ready(Softc& sc) {
  for (int i = 0; i < kAcceptsPerCall; ++i) {
    int fd = ::accept4(sc.listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: no more; anything else: the next readiness tries again
    new_connection(sc, fd);
  }
}

pktd_process ctl_batch(Softc& sc) {
  epoll_event events[kEventsPerCall];
  int n = ::epoll_wait(sc.ctl_epoll, events, kEventsPerCall, 0);
  for (int i = 0; i < n; ++i) {
    if (events[i].data.fd == sc.listen_fd)
      accept_ready(sc);
    else if (events[i].data.fd == sc.conn_fd)
      connection_ready(sc);
    // else: a connection closed earlier in this batch
  }
  return n == kEventsPerCall ? PKTD_PROCESS_AGAIN : PKTD_PROCESS_DONE;
}

}  // namespace

void connect_to_peer(Softc& sc) {
  int other = 1 - sc.end;
  int fd = -1;
  int err = connect_to(sc.paths.socket[other], fd);
  if (err == 0) err = send_hello(fd, make_hello(sc.end, sc.host.if_mtu(sc.ifp)), sc.rx_efd);
  if (err != 0) {
    if (fd >= 0) ::close(fd);
    sc.host.log(PKTD_LOG_INFO,
                "wire: %s: link %s: end %d is held but does not answer (%s); "
                "waiting for a peer",
                sc.name(), sc.opt.link.c_str(), other, error_text(err));
    return;
  }
  sc.conn_fd = fd;
  sc.hello_sent = true;
  watch(sc, fd);
}

void set_link(Softc& sc, bool up) {
  pktd_link_state state = up ? PKTD_LINK_UP : PKTD_LINK_DOWN;
  if (sc.host.if_link_state(sc.ifp) != state) sc.host.if_link_state_change(sc.ifp, state);
}

pktd_process wire_ctl_process(void* arg) {
  auto* sc = static_cast<Softc*>(arg);
  return guarded(&sc->host, "control", PKTD_PROCESS_DONE, [&] { return ctl_batch(*sc); });
}

}  // namespace devnp_wire
