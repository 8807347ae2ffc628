// State of one sam interface (one port of the emulated board), shared by driver.cc (attach,
// init, stop, detach, housekeeping), transmit.cc, receive.cc and control.cc (driver requests).
//
// Who touches what:
//   transmit state      under the interface's transmit lock (if_tx_lock), any thread
//   receive state       the interrupt's process callback (one worker at a time), and a reset
//                       with every worker quiesced
//   housekeeping state  the stack context only (callouts, ioctl)
//   counters            relaxed atomics, read by the status request
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "hardware.h"
#include "options.h"
#include "boundary.h"
#include "pktd/driver.h"

namespace pktd_sam {

inline constexpr uint32_t kDefaultMtu = 1500;
inline constexpr uint32_t kMaxMtu = 9000;
inline constexpr size_t kFrameMax = kMaxMtu + 14 + 4;  // Ethernet header and one VLAN tag
// Seed guide, sam_kick_tx: retry transmission 2 ms after running out of descriptors.
inline constexpr uint32_t kKickMs = 2;
inline constexpr uint32_t kHousekeepingMs = 100;

struct Counters {
  std::atomic<uint64_t> kicks{0};           // kick callouts armed (out of descriptors)
  std::atomic<uint64_t> link_restarts{0};   // transmission restarted on link up
  std::atomic<uint64_t> stale_purges{0};    // send queue purged for lack of progress
  std::atomic<uint64_t> resets{0};          // ring resets (quiesce_all)
  std::atomic<uint64_t> oversize{0};        // frames too long for a descriptor
  std::atomic<uint64_t> tx_completed{0};    // TX descriptors reclaimed after transmission
};

struct Softc {
  Softc(const pktd_host& h, pktd_driver* d, std::shared_ptr<Board> b, int index, Options o)
      : host(h), drv(d), board(std::move(b)), port(board->port(index)), port_index(index),
        opt(std::move(o)), mistake(opt.mistake) {}
  Softc(const Softc&) = delete;
  Softc& operator=(const Softc&) = delete;

  const pktd_host& host;
  pktd_driver* const drv;
  const std::shared_ptr<Board> board;  // shared by the ports of a pair
  Port& port;
  const int port_index;
  const Options opt;
  std::string firmware;  // what the firmware load reported (status)

  pktd_ifnet* ifp = nullptr;
  pktd_irq* irq = nullptr;
  pktd_thread* engine = nullptr;
  pktd_callout kick{};          // restarts transmission when descriptors ran out
  pktd_callout housekeeping{};  // stale purge, recovery, the "block" mistake
  bool housekeeping_armed = false;

  // --- transmit: under the transmit lock ---
  size_t tx_next = 0;     // next descriptor to fill
  size_t tx_reclaim = 0;  // oldest descriptor not yet reclaimed
  size_t tx_in_flight = 0;
  bool waiting_for_descriptors = false;  // OACTIVE held until descriptors free up
  bool waiting_for_link = false;         // OACTIVE held until the link comes back
  uint64_t progress_seen = 0;            // tx_completed at the last housekeeping
  uint32_t no_progress_ms = 0;

  // --- receive: the process callback only ---
  size_t rx_next = 0;
  uint64_t rx_missed_seen = 0;  // the missed-packets register, as last added to iqdrops

  // --- the engine thread's quiesce requests ---
  std::atomic<bool> engine_quiesce{false};
  std::atomic<bool> engine_die{false};

  // --- mistakes, set by option or request ---
  std::atomic<Mistake> mistake;
  std::atomic<uint32_t> block_once_ms{0};  // the next housekeeping blocks this long

  Counters counters;
};

// --- the C ABI boundary: no exception may leave a function pktd calls (common/boundary.h) ---

inline constexpr const char* kDriverName = "sam";

inline void log_escaped(const pktd_host* host, const char* where, const char* what) noexcept {
  pktd_kit::log_escaped(host, kDriverName, where, what);
}

template <typename... Args>
decltype(auto) guarded(const pktd_host* host, const char* where, Args&&... args) noexcept {
  return pktd_kit::guarded(host, kDriverName, where, std::forward<Args>(args)...);
}

// --- transmit.cc ---
void sam_start(pktd_ifnet* ifp, void* softc);  // pktd_if_ops.start: releases the lock
void sam_kick_tx(void* arg);                    // callout: lock, then start
// Transmit lock held; leaves it held. What start does, also called on link up and TX done.
void start_locked(Softc& sc);
// Transmit lock held: takes back the descriptors the engine has finished with.
void reclaim_tx(Softc& sc);
// TX completed (process callback): reclaims the descriptors, counting what was sent.
void on_tx_done(Softc& sc);
// Link changed (process callback): tells pktd and, on up, restarts transmission (seed guide).
void on_link_change(Softc& sc);
// Housekeeping (stack context): purges a send queue that has made no progress for stale_ms.
void purge_if_stale(Softc& sc);

// --- receive.cc ---
pktd_process sam_process(void* arg);
void sam_enable(void* arg);

// --- control.cc ---
// "loopback", "pair port 0", "cable NAME end 1": for the log and the status.
std::string describe(const Softc& sc);
int sam_ioctl(pktd_ifnet* ifp, void* softc, const char* request, char* reply, size_t reply_len);
// Takes every descriptor back with the engines and workers quiesced (seed: quiesce_all).
int reset_rings(Softc& sc, std::string& why);

}  // namespace pktd_sam
