// The "hardware" behind devnp-sam.so: an emulated NIC with descriptor rings, an interrupt cause
// register with a mask, and a link (the cable). Nothing here knows pktd: the driver (softc.h)
// programs it as a real driver programs registers, and an engine thread per port plays the
// DMA engine (driver.cc runs it as a pktd tracked thread).
//
// Descriptors change hands through an owner word, as on real NICs: the side that writes a
// descriptor's buffer publishes it with a release store of the owner, and the other side reads
// the owner with acquire before touching the buffer.
//
// A board has one port (loopback: what it sends it receives) or two (each port's transmissions
// arrive at the other, as two NICs joined by a cable). The two ports of a pair belong to one
// attach; the two ends of a named cable to two attaches (two pktd stacks in one process, or two
// mounts in one pktd), each end present only while its driver is attached.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

namespace pktd_sam {

// Interrupt causes (the ICR): what the engine has to say.
inline constexpr uint32_t kCauseRx = 0x1;      // frames in RX descriptors
inline constexpr uint32_t kCauseTxDone = 0x2;  // TX descriptors completed
inline constexpr uint32_t kCauseLink = 0x4;    // the link changed

enum class Owner : uint32_t {
  driver = 0,  // TX: free for the driver to fill; RX: holds a frame for the driver
  engine = 1,  // TX: queued for transmission; RX: an empty buffer the engine may fill
  done = 2     // TX only: transmitted, waiting for the driver to reclaim it
};

struct Descriptor {
  std::atomic<Owner> owner{Owner::driver};
  uint32_t len = 0;
  std::span<std::byte> buf;  // in the port's buffer memory
};

class Board;

class Port {
 public:
  Port(Board& board, size_t txd, size_t rxd, size_t frame_max);
  ~Port();
  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;

  // --- the driver's side (registers and rings) ---
  int irq_fd() const { return irq_fd_; }      // eventfd: readable when an unmasked cause is set
  uint32_t read_and_clear_causes();           // also drains the eventfd
  void mask_interrupts();                     // the IMR: no eventfd writes while masked
  void unmask_interrupts();                   // raises again if a cause is pending
  void ring_doorbell();                       // "new TX descriptors": wakes the engine
  // "RX descriptors given back" (a NIC's RX tail register): with flow control, the engines
  // that had to pause for lack of room here go on.
  void rx_refilled();
  std::vector<Descriptor>& tx() { return tx_; }
  std::vector<Descriptor>& rx() { return rx_; }
  size_t frame_max() const { return frame_max_; }
  Board& board() { return board_; }
  // Frames that arrived with no empty RX descriptor (the hardware's "missed packets" register).
  uint64_t rx_missed() const { return rx_missed_.load(std::memory_order_relaxed); }
  // Takes every descriptor back (reset, with the engine quiesced): TX all free, RX all empty.
  void reset_rings();

  // --- the engine (the engine thread of this port) ---
  // Transmits what the driver queued while the link is up and the engine is not held.
  // True if it did anything.
  bool transmit_pending();
  // Blocks until the doorbell rings, a wake() or timeout_ms passes.
  void wait_for_work(uint32_t timeout_ms);
  void wake();  // the driver's quiesce callback: get the engine out of wait_for_work

  // --- the peer's engine ---
  // A frame off the cable: into the next empty RX descriptor. With no empty descriptor, false
  // under flow control (the sender pauses, IEEE 802.3 Annex 31B), else counted as missed.
  bool receive(const std::byte* frame, uint32_t len);
  void raise(uint32_t causes);

 private:
  Board& board_;
  const size_t frame_max_;
  // Every descriptor's buffer, mapped at once and unmapped with the port, as a driver's DMA
  // memory would be (and so that a detached board gives its memory back to the system).
  std::byte* buffers_ = nullptr;
  size_t buffers_len_ = 0;
  std::vector<Descriptor> tx_;
  std::vector<Descriptor> rx_;
  size_t tx_engine_next_ = 0;  // engine thread only (and reset, with the engine quiesced)
  size_t rx_engine_next_ = 0;  // under the board's cable mutex (any sender's engine)
  std::atomic<uint32_t> causes_{0};
  std::atomic<bool> masked_{true};
  int irq_fd_ = -1;
  std::atomic<uint64_t> rx_missed_{0};
  std::mutex doorbell_mutex_;
  std::condition_variable doorbell_;
  bool doorbell_rung_ = false;  // doorbell_mutex_
};

// The board: one or two ports and the cable between them. It outlives every port's driver
// (each holds a share), so an engine may deliver to a port whose driver has gone: the frame
// lands in a ring nobody reads, as it would on a NIC whose driver was unloaded.
class Board {
 public:
  // ports: 1 (loopback) or 2 (a pair or a cable). Every port starts present.
  Board(int ports, size_t txd, size_t rxd, size_t frame_max, bool flow_control);
  bool flow_control() const { return flow_control_; }
  Port& port(int i) { return *ports_[static_cast<size_t>(i)]; }
  int ports() const { return static_cast<int>(ports_.size()); }

  // The link is up while the cable is plugged in and every port is present (a NIC sees no link
  // without a partner). A change raises kCauseLink on every port.
  bool link_up() const;
  void set_plugged(bool plugged);
  void set_present(int port, bool present);
  // Stalls the transmit DMA (TX descriptors stay queued and run out): on command, for tests.
  void hold_tx(bool hold);
  bool tx_held() const { return tx_held_.load(std::memory_order_acquire); }

  // Carries a frame from one port's engine to where the cable leads; false: paused.
  bool carry(const Port& from, const std::byte* frame, uint32_t len);

 private:
  friend class Port;
  std::vector<std::unique_ptr<Port>> ports_;
  void update_link(bool was_up);
  const bool flow_control_;
  std::atomic<bool> plugged_{true};
  std::atomic<uint32_t> absent_{0};  // bit i: port i has no driver
  std::atomic<bool> tx_held_{false};
  // Serialises deliveries into RX rings: in a pair both engines may deliver into one ring (a
  // port's own loopback never races, but one lock keeps the rule simple).
  std::mutex cable_mutex_;
};

}  // namespace pktd_sam
