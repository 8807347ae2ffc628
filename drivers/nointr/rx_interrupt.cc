// The software interrupt source's callbacks (seed guide, "Driver doesn't use an RX interrupt",
// the block "In the main code": your_process_interrupt and your_enable_interrupt).
//
// pktd runs process on a worker, outside the stack context, when the receive thread has sent the
// event; the source stays masked (interrupt_queue returns nothing) until process says DONE, and
// enable runs right after that. Neither waits for anything but the short HandoffLock.
#include "softc.h"

namespace pktd_nointr {

// Seed: "In your process interrupt callback, you will loop dequeueing packets until the queue is
// empty. ... If you did dequeue a packet, unlock your mutex, and call if_input() ... If there is
// no packet to dequeue, break out of your loop and return without unlocking your mutex ... You
// will unlock your internal mutex in the enable interrupt callback."
//
// One addition to the seed: at most one queue's worth per call. The receive thread refills the
// queue while we pass frames up, so "until empty" could keep this worker (and with one worker,
// the stack context) for as long as a flood lasts. Then the lock is released and AGAIN returned:
// the source stays masked and pktd calls process again after the other work waiting (the seed's
// rx_running stays set, so the thread sends no event meanwhile, and none is needed).
//
// Nothing here can throw: the queue does not allocate, and the SDK calls are C.
pktd_process nointr_rx_process(void* arg) noexcept {
  auto& sc = *static_cast<Softc*>(arg);
  const pktd_host& h = sc.host;
  bump(sc.rx.process_calls);
  for (size_t budget = sc.rx_queue.capacity(); budget > 0; --budget) {
    sc.rx_lock.lock();
    pktd_mbuf* m = sc.rx_queue.pop();
    if (m == nullptr) {
      // Empty: return HOLDING the lock, so the receive thread cannot ask for an event until
      // pktd has marked the source idle again (just before enable). An event asked for before
      // that would be refused, and the frame it announced would wait for the next one.
      return PKTD_PROCESS_DONE;
    }
    sc.rx_lock.unlock();
    // "Prepare mbuf if needed": the receive thread made it whole (m_devget).
    h.if_input(sc.ifp, m);
  }
  return PKTD_PROCESS_AGAIN;
}

// Seed: your_enable_interrupt: "driv->rx_running = 0; pthread_mutex_unlock(&driv->rx_mutex)".
// pktd calls it only after process returned DONE, which it does only holding the lock.
void nointr_rx_enable(void* arg) noexcept {
  auto& sc = *static_cast<Softc*>(arg);
  sc.rx_running = false;
  sc.rx_lock.unlock();
}

void drop_queued_frames(Softc& sc) noexcept {
  // The thread is reaped and the source detached: nobody else touches the queue, but the lock
  // is taken anyway (it is free) so that the rule "the queue under rx_lock" has no exception.
  sc.rx_lock.lock();
  while (pktd_mbuf* m = sc.rx_queue.pop()) sc.host.m_freem(m);
  sc.rx_lock.unlock();
}

}  // namespace pktd_nointr
