// Transmit: start and its kick callout (seed guide, "Managing the TX queue": sam_start and
// sam_kick_tx), and the link state, which follows whether the peer takes our frames.
#include <cerrno>

#include "frame_start.h"
#include "softc.h"

namespace pktd_nointr {
namespace {

using pktd_kit::TxResult;

// The peer's receive queue or our send buffer is full: it drains, so keep the frame.
bool transient(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS; }

// Nothing is bound at the peer's path (never was, or it went away): the cable is unplugged.
bool peer_missing(int err) { return err == ENOENT || err == ECONNREFUSED; }

TxResult drop(Softc& sc, pktd_mbuf* m, Counter& reason) {
  sc.host.if_count(sc.ifp, PKTD_IFC_OERRORS, 1);
  bump(reason);
  sc.host.m_freem(m);
  return TxResult::dropped;
}

// Sends and frees m, or leaves it alone and says busy.
TxResult transmit(Softc& sc, pktd_mbuf* m) {
  const pktd_host& h = sc.host;
  size_t len = h.m_pktlen(m);
  if (len > max_frame(h.if_mtu(sc.ifp))) return drop(sc, m, sc.tx.drop_oversize);
  // One datagram per frame, so the chain is made contiguous first.
  if (h.m_copydata(m, 0, len, sc.tx_buf.data()) != 0) return drop(sc, m, sc.tx.errors);
  int err = send_frame(sc.wire, sc.tx_buf.data(), len);
  if (transient(err)) return TxResult::busy;
  if (peer_missing(err)) {
    set_link(sc, false);
    return drop(sc, m, sc.tx.drop_no_peer);
  }
  if (err != 0) return drop(sc, m, sc.tx.errors);
  set_link(sc, true);
  h.m_freem(m);
  h.if_count(sc.ifp, PKTD_IFC_OPACKETS, 1);
  h.if_count(sc.ifp, PKTD_IFC_OBYTES, len);
  bump(sc.tx.frames);
  return TxResult::sent;
}

// Called with the transmit lock held; leaves it held.
void start_locked(Softc& sc) {
  pktd_kit::Kick kick{&sc.kick, nointr_kick_tx, &sc};
  bool drained = pktd_kit::send_one_at_a_time(sc.host, sc.ifp, kick,
                                              [&](pktd_mbuf* m) { return transmit(sc, m); });
  if (!drained) bump(sc.tx.retries);
}

}  // namespace

void nointr_start(pktd_ifnet* ifp, void* softc) {
  auto* sc = static_cast<Softc*>(softc);
  guarded(&sc->host, "start", [&] { start_locked(*sc); });
  // Outside the guard: start returns without the lock whatever happened.
  sc->host.if_tx_unlock(ifp);
}

// Seed: sam_kick_tx takes the transmit lock (NW_SIGLOCK) and calls start. A callout: stack
// context.
void nointr_kick_tx(void* arg) {
  auto* sc = static_cast<Softc*>(arg);
  sc->host.if_tx_lock(sc->ifp);
  nointr_start(sc->ifp, sc);
}

void set_link(Softc& sc, bool up) {
  pktd_link_state state = up ? PKTD_LINK_UP : PKTD_LINK_DOWN;
  // Every frame sent is not a link change.
  if (sc.host.if_link_state(sc.ifp) != state) sc.host.if_link_state_change(sc.ifp, state);
}

}  // namespace pktd_nointr
