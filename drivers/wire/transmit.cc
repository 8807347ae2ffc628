// Transmit: start (the seed's if_start) and its kick callout. Frames go into our ring in the
// segment, straight from the mbuf when no fault is set, else through the fault injector, which
// holds them until they are due. All of it runs with the transmit lock held, in the stack
// context, so the kick callout is armed there only (never from a worker: see detach).
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "softc.h"

namespace devnp_wire {
namespace {

// Seed guide: sam_kick_tx retries after 2 ms when the hardware cannot take more.
constexpr uint32_t kKickMs = 2;

// Frees the mbuf unless released: an exception (no memory for a Frame) must not leak it.
class OwnedMbuf {
 public:
  OwnedMbuf(const pktd_host& h, pktd_mbuf* m) : h_(h), m_(m) {}
  OwnedMbuf(const OwnedMbuf&) = delete;
  OwnedMbuf& operator=(const OwnedMbuf&) = delete;
  ~OwnedMbuf() {
    if (m_ != nullptr) h_.m_freem(m_);
  }
  pktd_mbuf* get() const { return m_; }
  pktd_mbuf* release() { return std::exchange(m_, nullptr); }

 private:
  const pktd_host& h_;
  pktd_mbuf* m_;
};

void count_sent(Softc& sc, size_t len) {
  sc.host.if_count(sc.ifp, PKTD_IFC_OPACKETS, 1);
  sc.host.if_count(sc.ifp, PKTD_IFC_OBYTES, len);
}

void count_error(Softc& sc) { sc.host.if_count(sc.ifp, PKTD_IFC_OERRORS, 1); }

// The ring's next slot; empty when it is full. A ring whose indices make no sense (a peer
// writing garbage) takes nothing: frames for it are counted as errors and dropped.
enum class Slot { ok, full, broken };
Slot next_slot(Softc& sc, std::span<std::byte>& slot) {
  slot = sc.tx.ring.next_slot();
  if (!slot.empty()) return Slot::ok;
  if (!sc.tx.ring.broken()) return Slot::full;
  if (!sc.tx.broken_logged)
    sc.host.log(PKTD_LOG_ERROR,
                "wire: %s: link %s: the peer corrupted our ring's indices; "
                "dropping what we send",
                sc.name(), sc.opt.link.c_str());
  sc.tx.broken_logged = true;
  return Slot::broken;
}

enum class Push { done, full };

// The fast path: the mbuf copied straight into a slot. On full, m is left to the caller.
Push push_mbuf(Softc& sc, pktd_mbuf* m, bool& published) {
  const pktd_host& h = sc.host;
  OwnedMbuf owned(h, m);
  size_t len = h.m_pktlen(m);
  std::span<std::byte> slot;
  Slot s = len <= kMaxFrame ? next_slot(sc, slot) : Slot::broken;
  if (s == Slot::full) {
    owned.release();
    return Push::full;
  }
  if (s == Slot::broken || h.m_copydata(m, 0, len, slot.data()) != 0) {
    count_error(sc);
    return Push::done;
  }
  sc.tx.ring.publish(len);
  published = true;
  count_sent(sc, len);
  sc.faults.count_passthrough();
  return Push::done;
}

// The injector's path: the frame is copied out and the injector decides its fate. It counts
// as sent: what the wire does to it afterwards is the injector's business (its own counts).
void submit_mbuf(Softc& sc, pktd_mbuf* m, Nanos now) {
  const pktd_host& h = sc.host;
  OwnedMbuf owned(h, m);
  size_t len = h.m_pktlen(m);
  if (len > kMaxFrame) {
    count_error(sc);
    return;
  }
  Frame frame(len);
  if (h.m_copydata(m, 0, len, frame.data()) != 0) {
    count_error(sc);
    return;
  }
  count_sent(sc, len);
  sc.faults.submit(std::move(frame), now);
}

// Moves the frames the injector has made due into the ring. False if the ring filled first.
bool flush_due(Softc& sc, Nanos now, bool& published) {
  sc.faults.advance(now);
  while (Frame* f = sc.faults.front()) {
    std::span<std::byte> slot;
    Slot s = next_slot(sc, slot);
    if (s == Slot::full) return false;
    if (s == Slot::broken) {
      count_error(sc);
    } else {
      std::memcpy(slot.data(), f->data(), f->size());
      sc.tx.ring.publish(f->size());
      published = true;
    }
    sc.faults.pop();
  }
  return true;
}

void wake_peer(Softc& sc) {
  if (!sc.tx.ring.consumer_needs_wake() || sc.tx.peer_efd < 0) return;
  uint64_t one = 1;
  // Fails only if the counter would overflow: the peer has a wake-up pending anyway.
  if (::write(sc.tx.peer_efd, &one, sizeof one) == static_cast<ssize_t>(sizeof one))
    ++sc.tx.wakeups;
}

// No peer: a cable with nothing at the other end. What is queued is dropped (counted as
// output errors) rather than kept to go stale; the injector forgets what it holds.
void drop_without_peer(Softc& sc) {
  const pktd_host& h = sc.host;
  while (pktd_mbuf* m = h.if_dequeue(sc.ifp)) {
    h.m_freem(m);
    count_error(sc);
    ++sc.tx.no_peer;
  }
  sc.faults.clear();
}

uint32_t ms_until(Nanos deadline, Nanos now) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
  return static_cast<uint32_t>(std::clamp<int64_t>(ms, 1, 60'000));
}

// Called with the transmit lock held; leaves it held. Seed guide, "Managing the TX queue".
void start_locked(Softc& sc) {
  const pktd_host& h = sc.host;
  // Seed: running start makes a pending kick pointless.
  if (h.callout_pending(&sc.kick) != 0) h.callout_stop(&sc.kick);
  if ((h.if_flags(sc.ifp) & PKTD_IFF_RUNNING) == 0) return;
  h.if_set_flags(sc.ifp, PKTD_IFF_OACTIVE, 0);
  if (!sc.tx.peer_up) {
    drop_without_peer(sc);
    h.if_set_flags(sc.ifp, 0, PKTD_IFF_OACTIVE);
    return;
  }
  Nanos now = monotonic_now();
  bool published = false;
  bool full = !flush_due(sc, now, published);
  while (!full) {
    pktd_mbuf* m = h.if_dequeue(sc.ifp);
    if (m == nullptr) break;
    if (sc.faults.passthrough()) {
      full = push_mbuf(sc, m, published) == Push::full;
      if (full) h.if_prepend(sc.ifp, m);
    } else {
      submit_mbuf(sc, m, now);
      full = !flush_due(sc, now, published);
    }
  }
  if (published) wake_peer(sc);
  if (full) {
    // The peer has not taken what we sent yet. OACTIVE stays set, so the stack will not call
    // start: the kick will.
    ++sc.tx.ring_full;
    h.callout_msec(&sc.kick, kKickMs, wire_kick, &sc);
    return;
  }
  h.if_set_flags(sc.ifp, 0, PKTD_IFF_OACTIVE);
  // Frames the injector holds for later: come back when the first is due.
  if (std::optional<Nanos> due = sc.faults.next_deadline())
    h.callout_msec(&sc.kick, ms_until(*due, now), wire_kick, &sc);
}

}  // namespace

void wire_start(pktd_ifnet* ifp, void* softc) {
  auto* sc = static_cast<Softc*>(softc);
  bool ok = guarded(&sc->host, "start", false, [&] {
    start_locked(*sc);
    return true;
  });
  // An exception left OACTIVE set: clear it, or the stack would never call start again.
  if (!ok) sc->host.if_set_flags(ifp, 0, PKTD_IFF_OACTIVE);
  // Outside the guard: start returns without the lock whatever happened.
  sc->host.if_tx_unlock(ifp);
}

void wire_kick(void* arg) {
  auto* sc = static_cast<Softc*>(arg);
  sc->host.if_tx_lock(sc->ifp);
  wire_start(sc->ifp, sc);
}

}  // namespace devnp_wire
