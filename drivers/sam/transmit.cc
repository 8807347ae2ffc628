// Transmission the way the seed guide teaches it ("Managing the TX queue"): start sets OACTIVE,
// fills TX descriptors from the send queue and clears OACTIVE when the queue is empty. When it
// cannot go on it leaves OACTIVE set, so the stack does not call it again, and arranges its own
// restart: a kick callout when descriptors ran out, the link-up interrupt when the link is down.
// A housekeeping pass purges a queue that has made no progress for stale_ms.
#include <cstring>

#include "softc.h"

namespace pktd_sam {
namespace {

bool descriptor_free(const Descriptor& d) {
  return d.owner.load(std::memory_order_acquire) == Owner::driver;
}

// Copies m into the next descriptor and hands it to the engine; frees m either way.
void load_descriptor(Softc& sc, pktd_mbuf* m) {
  const pktd_host& h = sc.host;
  Descriptor& d = sc.port.tx()[sc.tx_next];
  size_t len = h.m_pktlen(m);
  if (len > d.buf.size() || h.m_copydata(m, 0, len, d.buf.data()) != 0) {
    sc.counters.oversize.fetch_add(1, std::memory_order_relaxed);
    h.if_count(sc.ifp, PKTD_IFC_OERRORS, 1);
    h.m_freem(m);
    return;
  }
  h.m_freem(m);
  d.len = static_cast<uint32_t>(len);
  d.owner.store(Owner::engine, std::memory_order_release);  // publishes buf and len
  sc.tx_next = (sc.tx_next + 1) % sc.port.tx().size();
  ++sc.tx_in_flight;
}

// Out of descriptors: OACTIVE stays set and something must call start again: the seed's kick
// callout, armed in the stack context. On a worker (the link-up restart) a callout is not
// armed: from there it would only be posted, and could land after detach; the housekeeping pass
// restarts instead.
void wait_for_descriptors(Softc& sc) {
  sc.waiting_for_descriptors = true;
  if (sc.host.in_stack_context() == 0) return;
  sc.counters.kicks.fetch_add(1, std::memory_order_relaxed);
  sc.host.callout_msec(&sc.kick, kKickMs, sam_kick_tx, &sc);
}

}  // namespace

void reclaim_tx(Softc& sc) {
  const pktd_host& h = sc.host;
  auto& ring = sc.port.tx();
  while (sc.tx_in_flight > 0) {
    Descriptor& d = ring[sc.tx_reclaim];
    if (d.owner.load(std::memory_order_acquire) != Owner::done) break;
    // The driver counts a frame as sent when the hardware says so (driver.h, PKTD_IFC_OPACKETS).
    h.if_count(sc.ifp, PKTD_IFC_OPACKETS, 1);
    h.if_count(sc.ifp, PKTD_IFC_OBYTES, d.len);
    d.owner.store(Owner::driver, std::memory_order_release);
    sc.tx_reclaim = (sc.tx_reclaim + 1) % ring.size();
    --sc.tx_in_flight;
    sc.counters.tx_completed.fetch_add(1, std::memory_order_relaxed);
  }
}

void start_locked(Softc& sc) {
  const pktd_host& h = sc.host;
  // Seed: "if (callout_pending(&sam->tx_callout)) callout_stop(...)": we are running now.
  if (h.in_stack_context() != 0 && h.callout_pending(&sc.kick) != 0) h.callout_stop(&sc.kick);
  // Stopped: the queue waits (or is purged by going down); nothing is sent until init.
  if ((h.if_flags(sc.ifp) & PKTD_IFF_RUNNING) == 0) return;
  h.if_set_flags(sc.ifp, PKTD_IFF_OACTIVE, 0);
  sc.waiting_for_descriptors = false;
  if (!sc.board->link_up()) {
    if (sc.mistake.load() == Mistake::no_restart) {
      // The classic mistake (seed: "if nothing is done, the driver clears IFF_OACTIVE"): the
      // packets stay queued and nothing will call start until the stack queues another one.
      h.if_set_flags(sc.ifp, 0, PKTD_IFF_OACTIVE);
      return;
    }
    sc.waiting_for_link = true;  // OACTIVE stays set: the link-up interrupt restarts us
    return;
  }
  sc.waiting_for_link = false;
  reclaim_tx(sc);
  bool loaded = false;
  for (;;) {
    if (!descriptor_free(sc.port.tx()[sc.tx_next])) {
      if (h.if_queue_empty(sc.ifp) != 0) break;
      if (loaded) sc.port.ring_doorbell();
      wait_for_descriptors(sc);
      return;
    }
    pktd_mbuf* m = h.if_dequeue(sc.ifp);
    if (m == nullptr) break;
    load_descriptor(sc, m);
    loaded = true;
  }
  if (loaded) sc.port.ring_doorbell();
  h.if_set_flags(sc.ifp, 0, PKTD_IFF_OACTIVE);
}

void sam_start(pktd_ifnet* ifp, void* softc) {
  auto* sc = static_cast<Softc*>(softc);
  guarded(&sc->host, "start", 0, [&] {
    start_locked(*sc);
    return 0;
  });
  sc->host.if_tx_unlock(ifp);  // the contract: start returns without the lock, whatever happened
}

// Seed guide, sam_kick_tx: take the transmit lock and call start.
void sam_kick_tx(void* arg) {
  auto* sc = static_cast<Softc*>(arg);
  sc->host.if_tx_lock(sc->ifp);
  sam_start(sc->ifp, sc);
}

// Only reclaims: a start waiting for descriptors is the kick's to restart (seed: sam_kick_tx),
// as on NICs whose TX-done interrupt is moderated or off.
void on_tx_done(Softc& sc) {
  const pktd_host& h = sc.host;
  h.if_tx_lock(sc.ifp);
  reclaim_tx(sc);
  h.if_tx_unlock(sc.ifp);
}

void on_link_change(Softc& sc) {
  const pktd_host& h = sc.host;
  bool up = sc.board->link_up();
  pktd_link_state state = up ? PKTD_LINK_UP : PKTD_LINK_DOWN;
  if (h.if_link_state(sc.ifp) != state) h.if_link_state_change(sc.ifp, state);
  if (!up || sc.mistake.load() == Mistake::no_restart) return;
  // Seed guide: when the link comes up, check both the transmit descriptor list and the send
  // queue, and restart transmission rather than wait for the stack's next packet.
  h.if_tx_lock(sc.ifp);
  if (sc.waiting_for_link || sc.tx_in_flight > 0 || h.if_queue_empty(sc.ifp) == 0) {
    sc.counters.link_restarts.fetch_add(1, std::memory_order_relaxed);
    start_locked(sc);
  }
  h.if_tx_unlock(sc.ifp);
}

void purge_if_stale(Softc& sc) {
  const pktd_host& h = sc.host;
  h.if_tx_lock(sc.ifp);
  uint64_t completed = sc.counters.tx_completed.load(std::memory_order_relaxed);
  bool waiting = sc.tx_in_flight > 0 || h.if_queue_empty(sc.ifp) == 0;
  if (!waiting || completed != sc.progress_seen) {
    sc.progress_seen = completed;
    sc.no_progress_ms = 0;
  } else {
    sc.no_progress_ms += kHousekeepingMs;
  }
  // A start that ran out of descriptors on a worker (the link-up restart) armed no kick: this is
  // its restart.
  if (sc.waiting_for_descriptors && h.callout_pending(&sc.kick) == 0) start_locked(sc);
  if (sc.opt.stale_ms == 0 || sc.no_progress_ms < sc.opt.stale_ms ||
      h.if_queue_empty(sc.ifp) != 0) {
    h.if_tx_unlock(sc.ifp);
    return;
  }
  // Seed guide, stale data: what sat this long is probably out of date; purging also makes room,
  // so the stack's senders see their packets go (pktd counts them, drop_out_purged) rather than
  // ENOBUFS for ever. The interface stays up, so purging may have to happen again.
  h.if_purge(sc.ifp);
  sc.no_progress_ms = 0;
  h.if_tx_unlock(sc.ifp);
  sc.counters.stale_purges.fetch_add(1, std::memory_order_relaxed);
  h.log(PKTD_LOG_WARNING, "sam: %s: no transmit progress for %u ms (link %s): send queue purged",
        h.if_name(sc.ifp), sc.opt.stale_ms, sc.board->link_up() ? "up" : "down");
}

}  // namespace pktd_sam
