// The receive thread (seed guide, "Driver doesn't use an RX interrupt", the block "In the receive
// thread"). The device raises no interrupt, so a tracked thread waits for frames, copies each into
// an mbuf, queues it under the lock and raises the software interrupt itself; the process
// callback (rx_interrupt.cc) passes the frames up, so fast-forwarding and bridging see them come
// from a process callback like any other driver's.
#include <unistd.h>

#include <cerrno>

#include "softc.h"

namespace pktd_nointr {
namespace {

// Datagrams read after one wake-up before looking at the wake-up eventfd again: bounds how long
// a quiesce waits behind a burst.
constexpr int kReadBatch = 64;

constexpr auto kRelaxed = std::memory_order_relaxed;

// Seed: "In your driver thread, you will lock the mutex, check if the queue is full, and if not,
// enqueue the packet in your internal queue. You will now call interrupt_queue() in your thread.
// If evp isn't NULL, you will send this event yourself ... Once you have done this, you would
// unlock your mutex."
void hand_over(Softc& sc, pktd_mbuf* m) {
  const pktd_host& h = sc.host;
  sc.rx_state.store(RxThreadState::handing_over, kRelaxed);
  // Waits here while the process callback is between "queue empty" and enable: an event asked
  // for in that window would be refused (the source is still active) and the frame stranded.
  sc.rx_lock.lock();
  bool queued = !sc.rx_queue.full();
  if (queued) sc.rx_queue.push(m);
  // rx_running mimics interrupt masking, as in the seed: while an event is out, neither ask for
  // nor send another. enable clears it, under the same lock.
  if (!sc.rx_running) {
    if (pktd_irq_event* event = h.interrupt_queue(sc.rx_irq)) {
      sc.rx_running = true;
      h.irq_send(event);  // seed: MsgSendPulse(evp->sigev_coid, ...)
      bump(sc.rx.events_sent);
    }
  }
  sc.rx_lock.unlock();
  // Freed after the unlock: the process callback need not wait for the pool's lock.
  if (!queued) {
    h.m_freem(m);
    h.if_count(sc.ifp, PKTD_IFC_IQDROPS, 1);
    bump(sc.rx.drop_queue_full);
    return;
  }
  bump(sc.rx.frames);
}

void count_bad_frame(Softc& sc, Counter& reason) {
  sc.host.if_count(sc.ifp, PKTD_IFC_IERRORS, 1);
  bump(reason);
}

// One datagram: false when there was none to read.
bool receive_one(Softc& sc) {
  const pktd_host& h = sc.host;
  size_t len = 0;
  bool truncated = false;
  int err = receive_frame(sc.wire, sc.rx_buf.data(), sc.rx_buf.size(), len, truncated);
  if (err == EAGAIN || err == EWOULDBLOCK) return false;
  if (err != 0) {
    count_bad_frame(sc, sc.rx.errors);
    return true;
  }
  // Read per frame: the user may change the MTU at any time.
  if (truncated || len > max_frame(h.if_mtu(sc.ifp))) {
    count_bad_frame(sc, sc.rx.drop_oversize);
    return true;
  }
  if (len < kEthHeader) {
    count_bad_frame(sc, sc.rx.drop_runt);
    return true;
  }
  // Seed: a tracked thread may allocate mbufs, but only M_NOWAIT (M_WAITOK would need the stack
  // context's pseudo-threads). The frame is prepared here, whole, so process has nothing to do
  // but pass it up.
  pktd_mbuf* m = h.m_devget(sc.rx_buf.data(), len, PKTD_M_NOWAIT);
  if (m == nullptr) {
    h.if_count(sc.ifp, PKTD_IFC_IQDROPS, 1);
    bump(sc.rx.drop_no_mbuf);
    return true;
  }
  hand_over(sc, m);
  return true;
}

void receive_batch(Softc& sc) {
  sc.rx_state.store(RxThreadState::receiving, kRelaxed);
  for (int i = 0; i < kReadBatch && receive_one(sc); ++i) {
  }
}

// Seed, "Quiesce handling": the callback has asked; the thread itself calls quiesce_block(die).
// A block is answered here; a die is returned to the top of the thread (nointr_rx_thread), which
// calls quiesce_block(1) outside every try block.
enum class Next { carry_on, die };

Next answer_quiesce(Softc& sc) {
  drain_wake(sc.wire);
  int request = sc.quiesce_request.exchange(kQuiesceNone);
  if (request == kQuiesceDie) return Next::die;
  if (request == kQuiesceBlock) {
    // Blocked until unquiesce_all. Nothing to mask on this "hardware": frames wait in the socket.
    sc.rx_state.store(RxThreadState::quiesced, kRelaxed);
    sc.host.quiesce_block(0);
  }
  return Next::carry_on;
}

// poll() itself failed (not EINTR): the socket cannot be waited on, so stop receiving, but stay
// answerable to quiesce and reap.
Next park_until_reaped(Softc& sc, int err) {
  sc.host.log(PKTD_LOG_ERROR, "nointr: %s: receive thread cannot wait for frames (%s); "
              "receive stopped", sc.host.if_name(sc.ifp), error_text(err));
  for (;;) {
    sc.rx_state.store(RxThreadState::waiting, kRelaxed);
    if (wait_for_wake(sc.wire) && answer_quiesce(sc) == Next::die) return Next::die;
  }
}

// Returns when the thread is asked to die.
Next receive_loop(Softc& sc) {
  sc.rx_tid.store(static_cast<int>(::gettid()), kRelaxed);
  for (;;) {
    sc.rx_state.store(RxThreadState::waiting, kRelaxed);
    // The blocking receive: no interrupt will tell us a frame is there, so this thread waits.
    Readiness ready = wait_for_frame(sc.wire);
    if (ready.error != 0) return park_until_reaped(sc, ready.error);
    // The quiesce first: it is what the stack context is waiting for.
    if (ready.woken && answer_quiesce(sc) == Next::die) return Next::die;
    if (ready.frame) receive_batch(sc);
  }
}

}  // namespace

// The thread's body. quiesce_block(1) ends the thread with pthread_exit, which unwinds the stack
// (abi::__forced_unwind): so it is called here, after the try block, where no handler can catch
// that unwinding, and this function is not noexcept (which would turn it into std::terminate).
void nointr_rx_thread(void* arg) {
  auto& sc = *static_cast<Softc*>(arg);
  Next next = Next::carry_on;
  try {
    next = receive_loop(sc);
  } catch (const std::exception& e) {
    log_escaped(&sc.host, "receive thread", e.what());
  } catch (...) {
    log_escaped(&sc.host, "receive thread", "unknown exception");
  }
  sc.rx_state.store(RxThreadState::exited, kRelaxed);
  // Seed: "the user thread will terminate in quiesce_block" when die is 1. After an exception
  // the thread simply returns, which ends it too; reap finds it gone.
  if (next == Next::die) sc.host.quiesce_block(1);
}

// Seed: "your quiesce callback function must cause your tracked thread to call quiesce_block()".
// The thread is (or will soon be) blocked in poll(); the eventfd beside its socket wakes it.
// Runs in the stack context (quiesce_all, thread_reap): it only stores and writes, never waits.
void nointr_rx_quiesce(void* arg, int die) {
  auto& sc = *static_cast<Softc*>(arg);
  int want = die != 0 ? kQuiesceDie : kQuiesceBlock;
  int seen = sc.quiesce_request.load();
  while (seen < want && !sc.quiesce_request.compare_exchange_weak(seen, want)) {
  }
  signal_wake(sc.wire);
}

const char* to_string(RxThreadState state) {
  switch (state) {
    case RxThreadState::not_started: return "not started";
    case RxThreadState::waiting: return "waiting for a frame";
    case RxThreadState::receiving: return "receiving";
    case RxThreadState::handing_over: return "handing a frame over";
    case RxThreadState::quiesced: return "quiesced";
    case RxThreadState::exited: return "exited";
  }
  return "?";
}

}  // namespace pktd_nointr
