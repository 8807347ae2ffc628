// State of one wire interface, shared by driver.cc (attach, init, stop, detach), transmit.cc,
// receive.cc, control.cc (the peer connection) and request.cc (pkt nicinfo requests).
//
// Who touches what:
// - set at attach, then read only: the link (paths, segment, end, rings' places, rx_efd);
// - the transmit lock (if_tx_lock) guards the transmit side: the producer ring, the injector,
//   the peer's eventfd and whether a peer is there; start, the kick callout, stop, the
//   requests (all in the stack context) and the control interrupt (a worker) take it;
// - rx_mutex guards the consumer ring: the receive interrupt, and the control interrupt when a
//   new peer arrives (it skips what a former peer left);
// - the control interrupt alone owns the sockets.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <exception>
#include <mutex>
#include <utility>

#include "fault_injector.h"
#include "options.h"
#include "boundary.h"
#include "pktd/driver.h"
#include "rendezvous.h"
#include "segment.h"

namespace devnp_wire {

struct TxState {
  Producer ring;      // the frames we send (ring number = our end)
  int peer_efd = -1;  // written when the peer sleeps and we published; -1: no peer
  bool peer_up = false;
  pid_t peer_pid = -1;
  uint32_t peer_mtu = 0;
  bool broken_logged = false;
  uint64_t ring_full = 0;  // times start found the ring full and waited
  uint64_t wakeups = 0;    // eventfd writes to the peer
  uint64_t no_peer = 0;    // frames dropped because no peer was attached
};

struct RxState {
  Consumer ring;  // the frames the peer sends
  bool broken_logged = false;
};

struct RxCounters {
  std::atomic<uint64_t> too_big{0};    // longer than our MTU allows
  std::atomic<uint64_t> malformed{0};  // a length no frame has
  std::atomic<uint64_t> no_mbuf{0};
  std::atomic<uint64_t> broken{0};  // the ring's indices made no sense
};

struct Softc {
  Softc(const pktd_host& h, pktd_driver* d, Options o, uint64_t seed)
      : host(h), drv(d), opt(std::move(o)), faults(seed, opt.faults.settings) {}
  Softc(const Softc&) = delete;
  Softc& operator=(const Softc&) = delete;

  const pktd_host& host;
  pktd_driver* const drv;
  const Options opt;
  pktd_ifnet* ifp = nullptr;
  const char* name() const { return ifp != nullptr ? host.if_name(ifp) : "wire"; }

  // --- the link ---
  LinkPaths paths;
  int seg_fd = -1;  // the segment object; holds our end's lock
  int end = -1;
  std::byte* base = nullptr;
  int rx_efd = -1;  // ours: the peer writes it when it published and we slept
  pktd_irq* rx_irq = nullptr;

  // --- control (the control interrupt) ---
  int listen_fd = -1;
  int conn_fd = -1;  // the peer, or a newcomer that has not said hello yet
  bool hello_sent = false;
  int ctl_epoll = -1;  // listen_fd and conn_fd: one interrupt source for both
  pktd_irq* ctl_irq = nullptr;

  // --- transmit (the transmit lock) ---
  TxState tx;
  FaultInjector faults;
  bool kick_ready = false;
  pktd_callout kick{};  // retries a full ring (the seed's sam_kick_tx) and releases held frames

  // --- receive ---
  std::mutex rx_mutex;
  RxState rx;
  RxCounters rx_counts;
};

// The transmit lock for a scope, so an exception cannot leave it held.
class TxLock {
 public:
  explicit TxLock(const Softc& sc) : host_(sc.host), ifp_(sc.ifp) { host_.if_tx_lock(ifp_); }
  TxLock(const TxLock&) = delete;
  TxLock& operator=(const TxLock&) = delete;
  ~TxLock() { host_.if_tx_unlock(ifp_); }

 private:
  const pktd_host& host_;
  pktd_ifnet* ifp_;
};

inline Nanos monotonic_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::chrono::seconds(ts.tv_sec) + Nanos(ts.tv_nsec);
}

// --- the C ABI boundary: no exception may leave a function pktd calls (common/boundary.h) ---

inline constexpr const char* kDriverName = "wire";

inline void log_escaped(const pktd_host* host, const char* where, const char* what) noexcept {
  pktd_kit::log_escaped(host, kDriverName, where, what);
}

template <typename... Args>
decltype(auto) guarded(const pktd_host* host, const char* where, Args&&... args) noexcept {
  return pktd_kit::guarded(host, kDriverName, where, std::forward<Args>(args)...);
}

// --- transmit.cc ---
void wire_start(pktd_ifnet* ifp, void* softc);  // pktd_if_ops.start; releases the lock
void wire_kick(void* arg);                      // callout: takes the lock, calls start

// --- receive.cc ---
pktd_process wire_rx_process(void* arg);
void wire_irq_enable(void* arg);
// Skips what a former peer left in our receive ring and asks for a wake-up (attach, and a new
// peer's hello).
void rx_resync(Softc& sc);

// --- control.cc ---
pktd_process wire_ctl_process(void* arg);
// At attach, when the other end is there: connects and says hello. Not fatal if it does not
// answer (it may be leaving): the link stays down until a peer arrives.
void connect_to_peer(Softc& sc);
void set_link(Softc& sc, bool up);

// --- request.cc ---
int wire_ioctl(pktd_ifnet* ifp, void* softc, const char* request, char* reply, size_t len);

}  // namespace devnp_wire
