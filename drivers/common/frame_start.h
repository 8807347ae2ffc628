// The seed guide's if_start for a driver that hands its device one frame at a time ("Managing
// the TX queue", sam_start and sam_kick_tx): OACTIVE set, the send queue drained; a frame the
// device cannot take now goes back to the head of the queue, OACTIVE stays set (so the stack
// does not call start again) and a kick callout retries in 2 ms. Header-only.
#pragma once

#include <cstdint>

#include "pktd/driver.h"

namespace pktd_kit {

// What the device did with one frame: sent and dropped took it (and freed it); busy left it.
enum class TxResult { sent, dropped, busy };

// Seed guide: sam_kick_tx retries after 2 ms.
inline constexpr uint32_t kKickMs = 2;

// The callout that calls start again, and what it is called with.
struct Kick {
  pktd_callout* callout;
  void (*fn)(void* arg);
  void* arg;
};

// Whether the transmit lock is let go while the device takes a frame. A send that takes long
// (a TAP write runs Linux's whole receive of the frame) then does not hold up the stack queueing
// the next frames, when start runs on another worker (the transmit hand-off). Only for a send
// that touches nothing the lock guards; OACTIVE keeps every other start away meanwhile, and the
// stack queues behind it without calling start.
enum class LockDuringSend { held, released };

// Called with the transmit lock held; leaves it held. send(m) offers one frame to the device.
// False when the device was busy and the kick is armed.
template <typename Send>
bool send_one_at_a_time(const pktd_host& h, pktd_ifnet* ifp, const Kick& kick, Send&& send,
                        LockDuringSend lock = LockDuringSend::held) {
  // Seed: running start makes a pending kick pointless. Only in the stack context: off it a
  // callout call is only posted (and no kick is pending while a start runs there, as a pending
  // kick keeps OACTIVE set).
  if (h.in_stack_context() != 0 && h.callout_pending(kick.callout) != 0)
    h.callout_stop(kick.callout);
  // Stopped, or not yet initialised: the frames wait in the queue (going down purges it); the
  // stack's next packet after init calls start again.
  if ((h.if_flags(ifp) & PKTD_IFF_RUNNING) == 0) return true;
  h.if_set_flags(ifp, PKTD_IFF_OACTIVE, 0);
  while (pktd_mbuf* m = h.if_dequeue(ifp)) {
    if (lock == LockDuringSend::released) h.if_tx_unlock(ifp);
    TxResult result = send(m);
    if (lock == LockDuringSend::released) h.if_tx_lock(ifp);
    if (result == TxResult::busy) {
      h.if_prepend(ifp, m);
      if (h.in_stack_context() == 0) {
        // On a worker (the transmit hand-off) a callout armed here is only posted to the stack
        // context and could land after detach: OACTIVE goes clear with the frame first in the
        // queue, and the hand-off runs start again in the stack context, which arms the kick.
        h.if_set_flags(ifp, 0, PKTD_IFF_OACTIVE);
        return false;
      }
      // OACTIVE stays set, so the stack will not call start: the kick will.
      h.callout_msec(kick.callout, kKickMs, kick.fn, kick.arg);
      return false;
    }
  }
  h.if_set_flags(ifp, 0, PKTD_IFF_OACTIVE);
  return true;
}

}  // namespace pktd_kit
