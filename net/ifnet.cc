#include "net/ifnet.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "base/log.h"

namespace pktd::net {
namespace {

// A small id per thread, for the transmit lock's owner (0: nobody).
uint64_t this_thread_id() {
  static std::atomic<uint64_t> next{1};
  thread_local uint64_t id = next.fetch_add(1);
  return id;
}

}  // namespace

const char* to_string(LinkState s) {
  switch (s) {
    case LinkState::unknown: return "unknown";
    case LinkState::down: return "down";
    case LinkState::up: return "up";
  }
  return "?";
}

// --- SendQueue ---

void SendQueue::enqueue(buf::Mbuf* m) {
  m->nextpkt = nullptr;
  if (tail_ != nullptr) {
    tail_->nextpkt = m;
  } else {
    head_ = m;
  }
  tail_ = m;
  ++len_;
}

void SendQueue::prepend(buf::Mbuf* m) {
  m->nextpkt = head_;
  head_ = m;
  if (tail_ == nullptr) tail_ = m;
  ++len_;
}

buf::Mbuf* SendQueue::dequeue() {
  buf::Mbuf* m = head_;
  if (m == nullptr) return nullptr;
  head_ = m->nextpkt;
  if (head_ == nullptr) tail_ = nullptr;
  m->nextpkt = nullptr;
  --len_;
  return m;
}

size_t SendQueue::purge() {
  size_t n = 0;
  while (buf::Mbuf* m = dequeue()) {
    buf::Pool::instance().free_chain(m);
    ++n;
  }
  return n;
}

// --- Ifnet ---

Ifnet::Ifnet(uint32_t index, Config config)
    : index_(index), config_(std::move(config)), mtu_(config_.mtu), snd_(config_.send_queue_len) {
  // Capabilities flags the driver supports stay in config_.flags; nothing is UP until asked.
  admin_flags_.store(config_.flags & ~(PKTD_IFF_UP | PKTD_IFF_DRIVER_FLAGS));
}

Ifnet::~Ifnet() {
  hand_off_.reset();  // before anything a handed start would touch goes
  std::lock_guard lock(tx_mutex_);
  snd_.purge();
}

size_t Ifnet::send_queue_length() {
  std::lock_guard lock(tx_mutex_);
  return snd_.length();
}

size_t Ifnet::send_queue_max() {
  std::lock_guard lock(tx_mutex_);
  return snd_.max_length();
}

int Ifnet::set_up(bool want_up) {
  if (want_up) {
    admin_flags_.fetch_or(PKTD_IFF_UP);
    int err = config_.ops != nullptr && config_.ops->init != nullptr
                  ? config_.ops->init(handle(), config_.softc)
                  : 0;
    if (err != 0) {
      admin_flags_.fetch_and(~PKTD_IFF_UP);
      PKTD_LOG_ERR("%s: driver init failed: %s", name().c_str(), std::strerror(err));
    }
    return err;
  }
  if (!up()) return 0;
  // Seed: marking the interface down purges the send queue and stops new packets being queued.
  admin_flags_.fetch_and(~PKTD_IFF_UP);
  tx_lock();
  // A start running on the hand-off's worker finishes first (it lets the lock go while it
  // sends): stop must not clear OACTIVE under it, and a frame it puts back is purged here.
  while (handed_running_) {
    tx_unlock();
    std::this_thread::yield();
    tx_lock();
  }
  counters_.out_purged.fetch_add(snd_.purge(), std::memory_order_relaxed);
  tx_unlock();
  if (config_.ops != nullptr && config_.ops->stop != nullptr)
    config_.ops->stop(handle(), config_.softc, 0);
  return 0;
}

int Ifnet::set_mtu(uint32_t mtu) {
  if (mtu < 68 || mtu > 65535) return EINVAL;  // RFC 791: every host must take 68-byte datagrams
  mtu_.store(mtu);
  return up() ? set_up(true) : 0;  // reconfiguration: init again
}

void Ifnet::set_admin_flag(uint32_t flag, bool on) {
  if (on) {
    admin_flags_.fetch_or(flag);
  } else {
    admin_flags_.fetch_and(~flag);
  }
  if (up()) set_up(true);
}

void Ifnet::set_send_queue_max(size_t n) {
  std::lock_guard lock(tx_mutex_);
  snd_.set_max_length(n);
}

int Ifnet::output(buf::MbufPtr m) {
  if (!up()) {
    counters_.out_admin_down.fetch_add(1, std::memory_order_relaxed);
    return ENETDOWN;
  }
  tx_lock();
  if (start_handed_ || handed_running_) wait_for_handed_backlog_locked();
  if (snd_.full()) {
    tx_unlock();
    counters_.out_queue_full.fetch_add(1, std::memory_order_relaxed);
    return ENOBUFS;
  }
  snd_.enqueue(m.release());
  // A start that is handed or running (OACTIVE) takes this packet with the rest of the queue:
  // both are decided under the transmit lock, which the driver holds to dequeue and to clear
  // OACTIVE, so a packet is never left behind a start that has already finished.
  if (start_handed_ || (driver_flags_.load() & PKTD_IFF_OACTIVE) != 0) {
    tx_unlock();
    return 0;
  }
  if (hand_off_ && hand_off_->hand()) {
    start_handed_ = true;
    tx_unlock();
    return 0;
  }
  start_locked();
  return 0;
}

// Backpressure for the transmit hand-off. A handed start drains the queue one write at a time
// while the stack fills it; a burst (replies to a flood, a window's worth of segments) would
// overflow the queue into ENOBUFS drops where the stack, writing itself, used to just take
// longer. So past a backlog the stack waits for the worker, as it used to wait in the writes.
// Bounded: a worker that cannot run now (held off by quiesce_all) costs drops, not a stuck
// stack; once a wait has run out, the next ones are skipped until a handed start runs again.
void Ifnet::wait_for_handed_backlog_locked() {
  if (handed_wait_expired_) return;
  const size_t backlog = std::max<size_t>(1, std::min(kHandOffBacklog, snd_.max_length() / 2));
  const auto deadline = std::chrono::steady_clock::now() + kHandOffWaitLimit;
  while ((start_handed_ || handed_running_) && snd_.length() >= backlog) {
    if (std::chrono::steady_clock::now() >= deadline) {
      handed_wait_expired_ = true;
      return;
    }
    tx_unlock();
    std::this_thread::yield();
    tx_lock();
  }
}

void Ifnet::set_transmit_hand_off(std::unique_ptr<TransmitHandOff> h) { hand_off_ = std::move(h); }

void Ifnet::end_transmit_hand_off() {
  hand_off_.reset();  // waits for a handed start that is running
  tx_lock();
  bool pending = start_handed_;
  start_handed_ = false;
  if (pending) {
    start_locked();  // queued for a worker that will not run it now
  } else {
    tx_unlock();
  }
}

bool Ifnet::run_handed_start() {
  tx_lock();
  start_handed_ = false;
  handed_running_ = true;
  handed_wait_expired_ = false;
  start_locked();
  std::lock_guard lock(tx_mutex_);
  handed_running_ = false;
  return !snd_.empty() && !start_handed_ && (driver_flags_.load() & PKTD_IFF_OACTIVE) == 0 && up();
}

void Ifnet::start_locked() {
  // Seed: io-pkt does not call if_start again while the driver has OACTIVE set; the driver
  // restarts itself (callout or link-up) when it can send again.
  if ((driver_flags_.load() & PKTD_IFF_OACTIVE) != 0 || config_.ops == nullptr ||
      config_.ops->start == nullptr) {
    tx_unlock();
    return;
  }
  counters_.start_calls.fetch_add(1, std::memory_order_relaxed);
  config_.ops->start(handle(), config_.softc);
  if (tx_locked_by_me()) {
    // The contract says start releases the lock; a driver that forgets would hang every sender.
    counters_.start_lock_leaks.fetch_add(1, std::memory_order_relaxed);
    PKTD_LOG_ERR("%s: driver start returned holding the transmit lock; released it (the "
                 "driver must call if_tx_unlock before returning)", name().c_str());
    tx_unlock();
  }
}

void Ifnet::tx_lock() {
  tx_mutex_.lock();
  tx_owner_.store(this_thread_id(), std::memory_order_relaxed);
}

void Ifnet::tx_unlock() {
  tx_owner_.store(0, std::memory_order_relaxed);
  tx_mutex_.unlock();
}

bool Ifnet::tx_locked_by_me() const {
  return tx_owner_.load(std::memory_order_relaxed) == this_thread_id();
}

buf::Mbuf* Ifnet::dequeue() { return snd_.dequeue(); }
void Ifnet::prepend(buf::Mbuf* m) { snd_.prepend(m); }

bool Ifnet::queue_empty() {
  if (tx_locked_by_me()) return snd_.empty();
  std::lock_guard lock(tx_mutex_);
  return snd_.empty();
}

void Ifnet::purge() { counters_.out_purged.fetch_add(snd_.purge(), std::memory_order_relaxed); }

bool Ifnet::check_tx_stall(int64_t now_ns, int64_t threshold_ns) {
  size_t queued = 0;
  bool oactive = false;
  {
    // One consistent sample: start changes the queue and OACTIVE under this lock.
    std::lock_guard lock(tx_mutex_);
    queued = snd_.length();
    oactive = (driver_flags_.load() & PKTD_IFF_OACTIVE) != 0;
  }
  // OACTIVE set means the driver has taken charge (a kick callout, a link-up restart); a link
  // that is down may hold packets on purpose (seed: "Managing the TX queue").
  bool waiting = up() && link_state() != LinkState::down && queued != 0 && !oactive;
  uint64_t starts = counters_.start_calls.load(std::memory_order_relaxed);
  if (!waiting || starts != stall_.start_calls) {
    stall_ = {starts, waiting ? now_ns : -1, false};
    return false;
  }
  if (stall_.since_ns < 0) stall_.since_ns = now_ns;
  if (stall_.reported || now_ns - stall_.since_ns < threshold_ns) return false;
  stall_.reported = true;
  counters_.tx_stalls.fetch_add(1, std::memory_order_relaxed);
  PKTD_LOG_ERR("%s: %zu packets stuck in the send queue for %lld ms with OACTIVE clear and the "
               "link %s, and no start call since: the driver must restart transmission when the "
               "link comes back or resources free up (seed guide: managing the TX queue)",
               name().c_str(), queued, static_cast<long long>((now_ns - stall_.since_ns) / 1000000),
               to_string(link_state()));
  return true;
}

void Ifnet::set_driver_flags(uint32_t set, uint32_t clear) {
  set &= PKTD_IFF_DRIVER_FLAGS;
  clear &= PKTD_IFF_DRIVER_FLAGS;
  driver_flags_.fetch_or(set);
  driver_flags_.fetch_and(~clear);
}

void Ifnet::set_link_state(LinkState s) {
  LinkState old = link_.exchange(s);
  if (old == s) return;
  counters_.link_changes.fetch_add(1, std::memory_order_relaxed);
  PKTD_LOG_INFO("%s: link state %s", name().c_str(), to_string(s));
  if (link_handler_) link_handler_(*this, s);
}

void Ifnet::input(buf::MbufPtr m) {
  size_t len = buf::chain_length(m.get());
  counters_.ipackets.fetch_add(1, std::memory_order_relaxed);
  counters_.ibytes.fetch_add(len, std::memory_order_relaxed);
  // Seed: frames received while the interface is marked down are dropped on input.
  if (!up()) {
    counters_.in_admin_down.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (!input_handler_) {
    counters_.in_no_handler.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (m->has_pkthdr) m->pkthdr.rcvif = index_;
  input_handler_(*this, std::move(m));
}

// --- formatting ---

std::string format_mac(const Mac& mac) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return buf;
}

}  // namespace pktd::net
