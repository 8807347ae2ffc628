#include "hardware.h"

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <new>
#include <stdexcept>

namespace pktd_sam {

// --- Port ---

Port::Port(Board& board, size_t txd, size_t rxd, size_t frame_max)
    : board_(board), frame_max_(frame_max), tx_(txd), rx_(rxd) {
  buffers_len_ = (txd + rxd) * frame_max;
  void* mem = ::mmap(nullptr, buffers_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
  if (mem == MAP_FAILED) throw std::bad_alloc();
  buffers_ = static_cast<std::byte*>(mem);
  std::byte* next = buffers_;
  for (auto* ring : {&tx_, &rx_})
    for (Descriptor& d : *ring) {
      d.buf = {next, frame_max};
      next += frame_max;
    }
  reset_rings();
  irq_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (irq_fd_ < 0) {
    int err = errno;
    ::munmap(buffers_, buffers_len_);
    throw std::runtime_error(std::string("eventfd: ") + std::strerror(err));
  }
}

Port::~Port() {
  if (irq_fd_ >= 0) ::close(irq_fd_);
  ::munmap(buffers_, buffers_len_);
}

void Port::reset_rings() {
  for (Descriptor& d : tx_) d.owner.store(Owner::driver, std::memory_order_release);
  tx_engine_next_ = 0;
  // Under the cable mutex: the other port's engine delivers into these under it.
  std::lock_guard lock(board_.cable_mutex_);
  // RX buffers start posted to the engine, as a driver's init fills its receive ring.
  for (Descriptor& d : rx_) d.owner.store(Owner::engine, std::memory_order_release);
  rx_engine_next_ = 0;
  rx_missed_.store(0, std::memory_order_relaxed);
}

uint32_t Port::read_and_clear_causes() {
  uint64_t count = 0;
  // Drained before the causes are read: a cause raised after this read writes the fd again.
  [[maybe_unused]] ssize_t n = ::read(irq_fd_, &count, sizeof count);
  return causes_.exchange(0, std::memory_order_acq_rel);
}

void Port::mask_interrupts() { masked_.store(true, std::memory_order_release); }

void Port::unmask_interrupts() {
  masked_.store(false, std::memory_order_seq_cst);
  // A cause set while masked did not signal; it must not be lost.
  if (causes_.load(std::memory_order_seq_cst) != 0) raise(0);
}

void Port::raise(uint32_t causes) {
  causes_.fetch_or(causes, std::memory_order_seq_cst);
  if (masked_.load(std::memory_order_seq_cst)) return;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(irq_fd_, &one, sizeof one);
}

void Port::ring_doorbell() {
  {
    std::lock_guard lock(doorbell_mutex_);
    doorbell_rung_ = true;
  }
  doorbell_.notify_one();
}

void Port::wake() { ring_doorbell(); }

void Port::wait_for_work(uint32_t timeout_ms) {
  std::unique_lock lock(doorbell_mutex_);
  doorbell_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return doorbell_rung_; });
  doorbell_rung_ = false;
}

bool Port::transmit_pending() {
  bool did = false;
  // The link and the hold are looked at per frame: a cable pulled mid-burst stops the burst,
  // and what is left stays queued in the ring until the link returns.
  while (board_.link_up() && !board_.tx_held()) {
    Descriptor& d = tx_[tx_engine_next_];
    if (d.owner.load(std::memory_order_acquire) != Owner::engine) break;
    // Paused by the receiver: the descriptor stays queued, and its rx_refilled wakes us.
    if (!board_.carry(*this, d.buf.data(), d.len)) break;
    d.owner.store(Owner::done, std::memory_order_release);
    tx_engine_next_ = (tx_engine_next_ + 1) % tx_.size();
    did = true;
  }
  if (did) raise(kCauseTxDone);
  return did;
}

bool Port::receive(const std::byte* frame, uint32_t len) {
  {
    std::lock_guard lock(board_.cable_mutex_);
    Descriptor& d = rx_[rx_engine_next_];
    bool room = d.owner.load(std::memory_order_acquire) == Owner::engine;
    if (!room && board_.flow_control()) return false;
    if (!room || len > d.buf.size()) {
      rx_missed_.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    std::memcpy(d.buf.data(), frame, len);
    d.len = len;
    d.owner.store(Owner::driver, std::memory_order_release);
    rx_engine_next_ = (rx_engine_next_ + 1) % rx_.size();
  }
  raise(kCauseRx);
  return true;
}

void Port::rx_refilled() {
  if (!board_.flow_control()) return;
  for (auto& p : board_.ports_) p->wake();
}

// --- Board ---

Board::Board(int ports, size_t txd, size_t rxd, size_t frame_max, bool flow_control)
    : flow_control_(flow_control) {
  for (int i = 0; i < ports; ++i) ports_.push_back(std::make_unique<Port>(*this, txd, rxd, frame_max));
}

bool Board::link_up() const {
  return plugged_.load(std::memory_order_acquire) && absent_.load(std::memory_order_acquire) == 0;
}

void Board::set_plugged(bool plugged) {
  bool was_up = link_up();
  plugged_.store(plugged, std::memory_order_release);
  update_link(was_up);
}

void Board::set_present(int port, bool present) {
  bool was_up = link_up();
  uint32_t bit = 1u << port;
  if (present) {
    absent_.fetch_and(~bit, std::memory_order_acq_rel);
  } else {
    absent_.fetch_or(bit, std::memory_order_acq_rel);
  }
  update_link(was_up);
}

void Board::update_link(bool was_up) {
  if (link_up() == was_up) return;
  for (auto& p : ports_) {
    p->raise(kCauseLink);
    p->wake();  // queued TX descriptors go now that the cable is back
  }
}

void Board::hold_tx(bool hold) {
  tx_held_.store(hold, std::memory_order_release);
  if (!hold)
    for (auto& p : ports_) p->wake();
}

bool Board::carry(const Port& from, const std::byte* frame, uint32_t len) {
  if (ports_.size() == 1) return ports_[0]->receive(frame, len);
  Port& to = ports_[0].get() == &from ? *ports_[1] : *ports_[0];
  return to.receive(frame, len);
}

}  // namespace pktd_sam
