// State of one nointr interface, shared by driver.cc (attach, init, stop, detach, ioctl),
// rx_thread.cc (the receive thread), rx_interrupt.cc (the process and enable callbacks) and
// transmit.cc (start and its kick callout).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <utility>
#include <vector>

#include "options.h"
#include "boundary.h"
#include "pktd/driver.h"
#include "rx_handoff.h"
#include "unix_wire.h"

namespace pktd_nointr {

inline constexpr size_t kEthHeader = 14;
inline constexpr size_t kVlanTag = 4;  // a frame may carry an 802.1Q tag, as on a real NIC
inline constexpr uint32_t kMaxMtu = 65535;  // pktd's limit (Ifnet::set_mtu)
// Scratch buffers are sized for the largest MTU pktd allows, so that a later `ifconfig mtu`
// needs no reallocation under a lock.
inline constexpr size_t kMaxFrame = kMaxMtu + kEthHeader + kVlanTag;

// The largest frame the link carries at this MTU; anything longer is dropped and counted.
inline size_t max_frame(uint32_t mtu) { return size_t{mtu} + kEthHeader + kVlanTag; }

// What the receive thread is doing, for the status request and the tests.
enum class RxThreadState : int { not_started, waiting, receiving, handing_over, quiesced, exited };
const char* to_string(RxThreadState state);

// What the quiesce callback asks of the receive thread. Grows only (none < block < die) until the
// thread takes it: a reap arriving during a quiesce must still end the thread.
enum QuiesceRequest : int { kQuiesceNone = 0, kQuiesceBlock = 1, kQuiesceDie = 2 };

using Counter = std::atomic<uint64_t>;

struct RxStats {
  Counter frames{0};          // frames handed to the process callback
  Counter events_sent{0};     // interrupt_queue() gave an event and the thread sent it
  Counter process_calls{0};
  Counter drop_queue_full{0}; // iqdrops: the internal queue was full
  Counter drop_no_mbuf{0};    // iqdrops: no mbuf (M_NOWAIT)
  Counter drop_oversize{0};   // ierrors: longer than MTU + header
  Counter drop_runt{0};       // ierrors: shorter than an Ethernet header
  Counter errors{0};          // ierrors: the socket said something went wrong
};

struct TxStats {
  Counter frames{0};
  Counter retries{0};         // EAGAIN/ENOBUFS: put back, kick callout armed
  Counter drop_no_peer{0};    // oerrors: nothing bound at the peer's path
  Counter drop_oversize{0};   // oerrors: longer than MTU + header
  Counter errors{0};          // oerrors: any other send failure
};

struct Softc {
  Softc(const pktd_host& h, pktd_driver* d, Options o)
      : host(h), drv(d), opt(std::move(o)), rx_queue(opt.rxqueue) {}
  Softc(const Softc&) = delete;
  Softc& operator=(const Softc&) = delete;

  const pktd_host& host;
  pktd_driver* const drv;
  const Options opt;

  // Set at attach, before the receive thread and the interrupt exist; cleared at detach after
  // both are gone.
  pktd_ifnet* ifp = nullptr;
  UnixWire wire;
  pktd_irq* rx_irq = nullptr;        // the software interrupt source (irq_attach with fd -1)
  pktd_thread* rx_thread = nullptr;  // the tracked receive thread
  bool rx_thread_stuck = false;      // reap failed: the softc must outlive the thread (leaked)

  // --- the seed's rx_mutex and what it guards ---
  HandoffLock rx_lock;
  RxQueue rx_queue;          // rx_lock
  bool rx_running = false;   // rx_lock: an event is out and enable has not run yet (seed)

  // --- the receive thread's own ---
  std::vector<std::byte> rx_buf;
  std::atomic<int> quiesce_request{kQuiesceNone};
  std::atomic<RxThreadState> rx_state{RxThreadState::not_started};
  std::atomic<int> rx_tid{0};

  // --- the transmit lock guards these ---
  std::vector<std::byte> tx_buf;
  pktd_callout kick{};  // restarts transmission after EAGAIN (the seed's sam_kick_tx)

  RxStats rx;
  TxStats tx;
};

inline void bump(Counter& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

// --- the C ABI boundary: no exception may leave a function pktd calls (common/boundary.h) ---

inline constexpr const char* kDriverName = "nointr";

inline void log_escaped(const pktd_host* host, const char* where, const char* what) noexcept {
  pktd_kit::log_escaped(host, kDriverName, where, what);
}

template <typename... Args>
decltype(auto) guarded(const pktd_host* host, const char* where, Args&&... args) noexcept {
  return pktd_kit::guarded(host, kDriverName, where, std::forward<Args>(args)...);
}

// --- rx_thread.cc: the tracked thread (thread_create's body and quiesce callback) ---
void nointr_rx_thread(void* arg);
void nointr_rx_quiesce(void* arg, int die);

// --- rx_interrupt.cc: the software interrupt source's callbacks ---
pktd_process nointr_rx_process(void* arg) noexcept;
void nointr_rx_enable(void* arg) noexcept;
// Frees what is still queued. Only once the thread is reaped and the source detached.
void drop_queued_frames(Softc& sc) noexcept;

// --- transmit.cc ---
// pktd_if_ops.start: transmits the send queue; releases the transmit lock.
void nointr_start(pktd_ifnet* ifp, void* softc);
// Callout: takes the transmit lock and calls start again.
void nointr_kick_tx(void* arg);
// Reports the link state, if it changed.
void set_link(Softc& sc, bool up);

// --- requests.cc: pktd_if_ops.ioctl's requests (status, quiesce) ---
int handle_request(Softc& sc, const char* request, char* reply, size_t reply_len);

}  // namespace pktd_nointr
