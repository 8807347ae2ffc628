// Transmit: start (entered with the transmit lock) and its kick callout, the seed guide's
// sam_start / sam_kick_tx pattern. Frames go out with one sendmsg each on the packet socket:
// with MSG_DONTWAIT the kernel says at once when it has no room (EAGAIN, ENOBUFS), which is the
// "hardware not ready" the seed's retry is for. (A PACKET_TX_RING would save nothing here: pktd's
// frames are in mbufs, so either way they are copied once, and packet_mmap.rst's V3 TX ring
// takes only fixed-size frames.)
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>

#include "frame_start.h"
#include "softc.h"

namespace pktd_afpacket {
namespace {

// Buffers of one frame gathered into one sendmsg; a longer chain is copied flat first. 64
// clusters of 2 KiB already exceed the largest frame.
constexpr size_t kMaxIov = 64;

using pktd_kit::TxResult;

// Resource shortage that passes: keep the frame and try again later. ENOBUFS is also what a
// full qdisc answers (net_xmit_errno of NET_XMIT_DROP).
bool transient(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS; }

// The frame's buffers as an iovec list, or one flat copy in tx_buf when the chain is longer
// than kMaxIov. 0 when it cannot be sent at all.
int gather(Softc& sc, pktd_mbuf* m, size_t len, iovec (&iov)[kMaxIov]) {
  const pktd_host& h = sc.host;
  int count = 0;
  for (pktd_mbuf* b = m; b != nullptr; b = h.m_next(b)) {
    if (count == static_cast<int>(kMaxIov)) {
      if (len > sc.tx_buf.size() || h.m_copydata(m, 0, len, sc.tx_buf.data()) != 0) return 0;
      iov[0] = iovec{sc.tx_buf.data(), len};
      return 1;
    }
    if (h.m_len(b) != 0) iov[count++] = iovec{h.m_data(b), h.m_len(b)};
  }
  return count;
}

ssize_t send_frame(int fd, iovec* iov, int count) {
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = static_cast<size_t>(count);
  ssize_t n = 0;
  do {
    n = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n;
}

// Sends and frees m, or leaves it alone and says busy.
TxResult transmit(Softc& sc, pktd_mbuf* m) {
  const pktd_host& h = sc.host;
  size_t len = h.m_pktlen(m);
  iovec iov[kMaxIov];
  int count = gather(sc, m, len, iov);
  ssize_t n = count > 0 ? send_frame(sc.ring.fd, iov, count) : -1;
  if (count > 0 && n < 0 && transient(errno)) return TxResult::busy;
  h.m_freem(m);
  // Anything else loses this frame only: ENETDOWN (the Linux device is down: it would drop the
  // frame anyway, and holding the queue until someone brings it up would only go stale), ENXIO
  // (the device is gone), EMSGSIZE (longer than the Linux device's MTU).
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
  pktd_kit::Kick kick{&sc.kick, afp_kick_tx, &sc};
  bool drained = pktd_kit::send_one_at_a_time(sc.host, sc.ifp, kick,
                                              [&](pktd_mbuf* m) { return transmit(sc, m); });
  if (!drained) sc.tx_busy.add();
}

}  // namespace

void afp_start(pktd_ifnet* ifp, void* softc) {
  auto* sc = static_cast<Softc*>(softc);
  guarded(&sc->host, "start", [&] { start_locked(*sc); });
  // Outside the guard: start returns without the lock whatever happened.
  sc->host.if_tx_unlock(ifp);
}

void afp_kick_tx(void* arg) {
  auto* sc = static_cast<Softc*>(arg);
  sc->host.if_tx_lock(sc->ifp);
  afp_start(sc->ifp, sc);
}

}  // namespace pktd_afpacket
