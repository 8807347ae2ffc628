// Transmit (start and its kick callout), receive (the TAP fd's interrupt) and the link monitor
// (the rtnetlink socket's interrupt).
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "frame_start.h"
#include "softc.h"

namespace pktd_tap {
namespace {

// --- transmit ---

using pktd_kit::TxResult;

// Resource shortage that passes: keep the frame and try again later.
bool transient(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS; }

// Longest chain written in one writev; a longer one goes through tx_buf.
constexpr size_t kMaxTxIov = 16;

// One write per frame: a TAP takes a whole frame per write() or none of it, and the pieces of one
// writev are one frame. The chain's buffers go as they are, without a copy, unless the chain
// has more pieces than kMaxTxIov.
ssize_t write_frame(Softc& sc, pktd_mbuf* m, size_t len) {
  const pktd_host& h = sc.host;
  if (len > sc.tx_buf.size()) {  // longer than any frame the device takes
    errno = EMSGSIZE;
    return -1;
  }
  iovec iov[kMaxTxIov];
  int count = 0;
  pktd_mbuf* b = m;
  for (; b != nullptr && count < static_cast<int>(kMaxTxIov); b = h.m_next(b))
    if (h.m_len(b) > 0) iov[count++] = iovec{h.m_data(b), h.m_len(b)};
  if (b != nullptr) {
    if (h.m_copydata(m, 0, len, sc.tx_buf.data()) != 0) {
      errno = EMSGSIZE;
      return -1;
    }
    iov[0] = iovec{sc.tx_buf.data(), len};
    count = 1;
  }
  // VNET_HDR: the virtio_net_hdr for this frame's offload flags would be the first piece.
  ssize_t n = 0;
  do {
    n = ::writev(sc.tap.fd, iov, count);
  } while (n < 0 && errno == EINTR);
  return n;
}

// Sends and frees m, or leaves it alone and says busy.
TxResult transmit(Softc& sc, pktd_mbuf* m) {
  const pktd_host& h = sc.host;
  size_t len = h.m_pktlen(m);
  ssize_t n = write_frame(sc, m, len);
  if (n < 0 && transient(errno)) return TxResult::busy;
  h.m_freem(m);
  // EIO here means the Linux side is down (pktd's link state says so too): Linux would drop
  // the frame anyway, and holding the queue until someone brings it up would only go stale.
  if (n < 0 || static_cast<size_t>(n) != len) {
    h.if_count(sc.ifp, PKTD_IFC_OERRORS, 1);
    return TxResult::dropped;
  }
  h.if_count(sc.ifp, PKTD_IFC_OPACKETS, 1);
  h.if_count(sc.ifp, PKTD_IFC_OBYTES, len);
  return TxResult::sent;
}

// Called with the transmit lock held; leaves it held.
void start_locked(Softc& sc) {
  pktd_kit::Kick kick{&sc.kick, tap_kick_tx, &sc};
  pktd_kit::send_one_at_a_time(sc.host, sc.ifp, kick,
                               [&](pktd_mbuf* m) { return transmit(sc, m); },
                               pktd_kit::LockDuringSend::released);
}

// --- receive ---

enum class RxResult { frame, dropped, error, empty, gone };

// Longest chain read in one readv: 64 clusters of 2 KiB already exceed kMaxFrame.
constexpr size_t kMaxIov = 64;

ssize_t read_into(const pktd_host& h, int fd, pktd_mbuf* m) {
  iovec iov[kMaxIov];
  int count = 0;
  for (pktd_mbuf* b = m; b != nullptr && count < static_cast<int>(kMaxIov); b = h.m_next(b))
    iov[count++] = iovec{h.m_data(b), h.m_len(b)};
  ssize_t n = 0;
  do {
    n = ::readv(fd, iov, count);
  } while (n < 0 && errno == EINTR);
  return n;
}

RxResult read_failed(Softc& sc, int err) {
  if (err == EAGAIN || err == EWOULDBLOCK) return RxResult::empty;
  if (err == EBADFD) return RxResult::gone;  // the device was deleted under us
  // Anything else loses that frame only.
  sc.host.if_count(sc.ifp, PKTD_IFC_IERRORS, 1);
  return RxResult::error;
}

// No mbuf to be had: the frame is read anyway, so the fd drains and later frames still come.
RxResult drop_one(Softc& sc) {
  ssize_t n = 0;
  do {
    n = ::read(sc.tap.fd, sc.rx_drain.data(), sc.rx_drain.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return read_failed(sc, errno);
  sc.host.if_count(sc.ifp, PKTD_IFC_IQDROPS, 1);
  return RxResult::dropped;
}

RxResult receive_one(Softc& sc) {
  const pktd_host& h = sc.host;
  // Sized from the Linux side's MTU, which bounds what it sends us (no GSO without VNET_HDR).
  // A TAP read cuts a longer frame short without a word; one byte beyond the largest frame
  // expected tells such a frame (the MTU raised a moment ago) from a whole one.
  size_t capacity = sc.rx_capacity.load(std::memory_order_relaxed);
  pktd_mbuf* m = h.m_getpacket(capacity + 1, PKTD_M_NOWAIT);
  if (m == nullptr) return drop_one(sc);
  ssize_t n = read_into(h, sc.tap.fd, m);
  if (n <= 0 || static_cast<size_t>(n) > capacity) {
    int err = n < 0 ? errno : EMSGSIZE;
    h.m_freem(m);
    return read_failed(sc, err);
  }
  // VNET_HDR: the virtio_net_hdr would be parsed and trimmed off the front here.
  h.m_trim(m, static_cast<size_t>(n));
  h.if_input(sc.ifp, m);
  return RxResult::frame;
}

// Deleted under us (ip link del): the fd now polls as an error for ever, so the runtime calls us
// straight back until the link irq, which gets the RTM_DELLINK, detaches this source (a source
// cannot detach itself from its own callback, and a callout armed from a worker is only posted,
// so it could still arrive after detach freed the softc).
void device_gone(Softc& sc) {
  sc.rx_gone_reported = true;
  sc.host.log(PKTD_LOG_ERROR, "tap: %s: Linux device %s has gone away; receive stopped",
              sc.host.if_name(sc.ifp), sc.tap.name.c_str());
  tap_set_link(sc, false);
}

pktd_process rx_batch(Softc& sc) {
  if (sc.rx_gone_reported) return PKTD_PROCESS_DONE;
  for (uint32_t i = 0; i < sc.opt.rxbatch; ++i) {
    RxResult r = receive_one(sc);
    if (r == RxResult::empty) return PKTD_PROCESS_DONE;
    if (r == RxResult::gone) {
      device_gone(sc);
      return PKTD_PROCESS_DONE;
    }
  }
  // A full batch: more may be waiting, but other sources get their turn first.
  return PKTD_PROCESS_AGAIN;
}

// --- link monitor ---

// Datagrams read per interrupt before giving other sources a turn.
constexpr int kLinkBatch = 16;

// The Linux device is gone for good: nothing more will come from it.
void device_deleted(Softc& sc) {
  tap_set_link(sc, false);
  if (pktd_irq* rx = sc.rx_irq.exchange(nullptr)) sc.host.irq_detach(rx);
}

void on_link_event(void* ctx, const LinkEvent& event) {
  auto& sc = *static_cast<Softc*>(ctx);
  if (event.deleted) {
    device_deleted(sc);
    return;
  }
  if (event.mtu != 0) sc.rx_capacity.store(frame_capacity(event.mtu), std::memory_order_relaxed);
  tap_set_link(sc, pktd_kit::link_up(event.flags));
}

// Messages were lost (socket overrun) or cut short: ask for the current state instead, by index
// (the device may have been renamed).
void resync_link(Softc& sc) {
  std::string name;
  uint32_t mtu = 0;
  uint32_t flags = 0;
  if (name_of(sc.ifindex, name) != 0) {
    device_deleted(sc);
    return;
  }
  if (query_mtu(name, mtu) == 0)
    sc.rx_capacity.store(frame_capacity(mtu), std::memory_order_relaxed);
  if (query_flags(name, flags) != 0) flags = 0;
  tap_set_link(sc, linux_admin_up(flags));
}

pktd_process link_batch(Softc& sc) {
  for (int i = 0; i < kLinkBatch; ++i) {
    ssize_t n = ::recv(sc.link_fd, sc.link_buf.data(), sc.link_buf.size(),
                       MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        resync_link(sc);
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        sc.host.log(PKTD_LOG_WARNING, "tap: %s: link monitor: %s", sc.host.if_name(sc.ifp),
                    error_text(errno));
      return PKTD_PROCESS_DONE;
    }
    if (static_cast<size_t>(n) > sc.link_buf.size()) {
      resync_link(sc);
      continue;
    }
    parse_link_messages(sc.link_buf.data(), static_cast<size_t>(n), sc.ifindex, on_link_event,
                        &sc);
  }
  return PKTD_PROCESS_AGAIN;
}

}  // namespace

void tap_start(pktd_ifnet* ifp, void* softc) {
  auto* sc = static_cast<Softc*>(softc);
  guarded(&sc->host, "start", [&] { start_locked(*sc); });
  // Outside the guard: start returns without the lock whatever happened.
  sc->host.if_tx_unlock(ifp);
}

void tap_kick_tx(void* arg) {
  auto* sc = static_cast<Softc*>(arg);
  sc->host.if_tx_lock(sc->ifp);
  tap_start(sc->ifp, sc);
}

pktd_process tap_rx_process(void* arg) {
  auto* sc = static_cast<Softc*>(arg);
  return guarded(&sc->host, "receive", PKTD_PROCESS_DONE, [&] { return rx_batch(*sc); });
}

pktd_process tap_link_process(void* arg) {
  auto* sc = static_cast<Softc*>(arg);
  return guarded(&sc->host, "link monitor", PKTD_PROCESS_DONE, [&] { return link_batch(*sc); });
}

// Nothing to unmask: the runtime re-arms the fd in its epoll set after DONE.
void tap_irq_enable(void*) {}

void tap_set_link(Softc& sc, bool up) {
  pktd_link_state state = up ? PKTD_LINK_UP : PKTD_LINK_DOWN;
  // Every RTM_NEWLINK (an MTU change, an address) is not a link change.
  if (sc.host.if_link_state(sc.ifp) != state) sc.host.if_link_state_change(sc.ifp, state);
}

}  // namespace pktd_tap
