// The stack's world in a test: a manual clock, a timing wheel on it and a queue of posted work
// (TestEnv), and an in-memory Ethernet wire between two interfaces (TestWire). Deterministic and
// single-threaded: nothing happens unless the test calls run() or advance().
//
//   TestEnv env;
//   TestWire wire;                       // outlives the interfaces attached to it
//   net::Interfaces ifs;
//   net::Ifnet* eth = ifs.attach("eth", 0, wire.config(0, mac));
//   ...
//   env.run();                           // delivers what is on the wire, runs what is due
//   env.advance(std::chrono::seconds(3));  // moves time, firing timers on the way
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "buf/mbuf.h"
#include "inet/env.h"
#include "net/ifnet.h"
#include "pktd/driver.h"
#include "time/clock.h"
#include "time/timer_wheel.h"

namespace pktd::test {

class TestEnv final : public inet::Env {
 public:
  // Time starts at an arbitrary non-zero point, so nothing depends on "zero" being special.
  explicit TestEnv(time::TimePoint start = time::TimePoint{std::chrono::hours(1)})
      : clock_(start), wheel_(clock_) {}
  TestEnv(const TestEnv&) = delete;
  TestEnv& operator=(const TestEnv&) = delete;

  // --- inet::Env ---
  const time::Clock& clock() const override { return clock_; }
  void timer_init(time::Callout& c) override { wheel_.init(c); }
  void timer_arm(time::Callout& c, uint32_t ms, time::CalloutFn fn, void* arg) override {
    wheel_.arm(c, ms, fn, arg);
  }
  bool timer_stop(time::Callout& c) override { return wheel_.stop(c); }
  void post(std::function<void()> fn) override {
    std::lock_guard lock(mutex_);
    posted_.push_back(std::move(fn));
  }
  // A fixed epoch plus the manual clock: capture timestamps are deterministic too.
  int64_t wall_clock_ns() const override {
    return kWallEpochNs + clock_.now().time_since_epoch().count();
  }

  // --- driving it ---
  // Runs posted functions and expired timers, in that order, until neither has anything left at
  // the current time. Returns how many ran. A test whose work never settles (a storm) aborts
  // after max_steps rather than hanging.
  size_t run(size_t max_steps = 10'000'000) {
    size_t ran = 0;
    while (true) {
      std::deque<std::function<void()>> batch;
      {
        std::lock_guard lock(mutex_);
        batch.swap(posted_);
      }
      for (auto& fn : batch) fn();
      size_t expired = wheel_.run_expired();
      ran += batch.size() + expired;
      // Nothing ran, so nothing changed: idle. (A 0 ms callout armed by a posted function ran in
      // this pass; one armed by a callout made expired non-zero and gets another pass.)
      if (batch.empty() && expired == 0) return ran;
      if (ran > max_steps) {
        std::fprintf(stderr, "TestEnv::run: still busy after %zu steps\n", ran);
        std::abort();
      }
    }
  }

  // Moves the clock forward by d, stopping at every timer deadline on the way (so a timer fires
  // at its time, sees now() equal to it and may arm the next), and at most max_step at a time.
  // Runs what is due at each stop, then at the end.
  void advance(time::Duration d, time::Duration max_step = std::chrono::seconds(1)) {
    const time::TimePoint end = clock_.now() + d;
    run();
    while (clock_.now() < end) {
      time::TimePoint next = std::min(end, clock_.now() + max_step);
      if (auto deadline = wheel_.next_deadline(); deadline && *deadline > clock_.now())
        next = std::min(next, *deadline);
      clock_.set(next);
      run();
    }
  }

  time::TimePoint now() const { return clock_.now(); }
  time::ManualClock& manual_clock() { return clock_; }
  time::TimerWheel& wheel() { return wheel_; }
  size_t posted_count() {
    std::lock_guard lock(mutex_);
    return posted_.size();
  }
  // Forgets posted work without running it (teardown).
  void discard_posted() {
    std::lock_guard lock(mutex_);
    posted_.clear();
  }

  static constexpr int64_t kWallEpochNs = 1'700'000'000'000'000'000;

 private:
  time::ManualClock clock_;
  time::TimerWheel wheel_;
  std::mutex mutex_;
  std::deque<std::function<void()>> posted_;
};

// An Ethernet segment between two interfaces (ends 0 and 1), as a cable would be: what one end's
// driver sends, the other end receives as a fresh packet (a NIC's receive DMA), so the ends never
// share buffers. Frames are handed to the peer's Ifnet::input at once; the stack's input handler
// queues them and posts a drain, so TestEnv::run() is what processes them.
//
// Every frame is logged as sent (from which end, its bytes). The filter may then inspect or
// modify it (the peer receives what the filter leaves) and returns false to drop it. The wire
// must outlive the interfaces attached to it (their drivers' softc points here).
class TestWire {
 public:
  struct Frame {
    int from = 0;  // the end that sent it
    std::string bytes;
    bool dropped = false;
    time::TimePoint when{};  // with set_clock
  };
  // (sending end, frame) -> deliver? The frame may be changed in place (any length).
  using Filter = std::function<bool(int from, std::string& frame)>;

  TestWire() {
    for (int i = 0; i < 2; ++i) {
      ends_[static_cast<size_t>(i)].wire = this;
      ends_[static_cast<size_t>(i)].index = i;
    }
  }
  TestWire(const TestWire&) = delete;
  TestWire& operator=(const TestWire&) = delete;

  // An interface configuration for end 0 or 1. The interface registers itself with the wire
  // when it is brought up (init).
  net::Ifnet::Config config(int end, const net::Mac& mac, uint32_t mtu = 1500) {
    net::Ifnet::Config c;
    c.mac = mac;
    c.mtu = mtu;
    c.flags = PKTD_IFF_BROADCAST | PKTD_IFF_SIMPLEX | PKTD_IFF_MULTICAST;
    c.ops = &kOps;
    c.softc = &ends_[static_cast<size_t>(end)];
    return c;
  }

  void set_filter(Filter f) { filter_ = std::move(f); }
  // Stamps logged frames with this clock's time.
  void set_clock(const time::Clock* clock) { clock_ = clock; }
  // A cut cable: frames are logged and dropped.
  void set_connected(bool on) { connected_ = on; }
  const std::vector<Frame>& log() const { return log_; }
  void clear_log() { log_.clear(); }
  template <typename Pred>
  size_t count(Pred pred) const {
    return static_cast<size_t>(std::count_if(log_.begin(), log_.end(), pred));
  }
  net::Ifnet* end(int i) const { return ends_[static_cast<size_t>(i)].ifp; }

 private:
  struct End {
    TestWire* wire = nullptr;
    int index = 0;
    net::Ifnet* ifp = nullptr;  // set by init, cleared by detach
  };

  static End& end_of(void* softc) { return *static_cast<End*>(softc); }

  static int init(pktd_ifnet* handle, void* softc) {
    net::Ifnet* ifp = net::Ifnet::from(handle);
    end_of(softc).ifp = ifp;
    ifp->set_driver_flags(PKTD_IFF_RUNNING, 0);
    return 0;
  }
  // io-pkt's if_start: take everything queued, release the transmit lock, then put it on the
  // wire (the receiver's input takes its own locks).
  static void start(pktd_ifnet* handle, void* softc) {
    net::Ifnet* ifp = net::Ifnet::from(handle);
    std::vector<buf::Mbuf*> batch;
    while (buf::Mbuf* m = ifp->dequeue()) batch.push_back(m);
    ifp->tx_unlock();
    End& e = end_of(softc);
    for (buf::Mbuf* raw : batch) {
      buf::MbufPtr m(raw);
      size_t len = buf::chain_length(m.get());
      ifp->counters().opackets.fetch_add(1, std::memory_order_relaxed);
      ifp->counters().obytes.fetch_add(len, std::memory_order_relaxed);
      e.wire->carry(e.index, buf::to_string(*m));
    }
  }
  static void stop(pktd_ifnet* handle, void*, int) {
    net::Ifnet::from(handle)->set_driver_flags(0, PKTD_IFF_RUNNING | PKTD_IFF_OACTIVE);
  }
  static void detach(pktd_ifnet*, void* softc) { end_of(softc).ifp = nullptr; }

  void carry(int from, std::string bytes) {
    const time::TimePoint when = clock_ != nullptr ? clock_->now() : time::TimePoint{};
    log_.push_back(Frame{from, bytes, false, when});
    const size_t logged = log_.size() - 1;
    bool deliver = connected_ && (!filter_ || filter_(from, bytes));
    net::Ifnet* peer = ends_[static_cast<size_t>(1 - from)].ifp;
    if (!deliver || peer == nullptr) {
      log_[logged].dropped = true;
      return;
    }
    buf::MbufPtr m = buf::packet_from(
        std::as_bytes(std::span<const char>(bytes.data(), bytes.size())), buf::Wait::nowait);
    if (!m) {
      peer->counters().iqdrops.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    peer->input(std::move(m));
  }

  static constexpr pktd_if_ops kOps = {init, start, stop, nullptr, detach};

  std::array<End, 2> ends_;
  Filter filter_;
  const time::Clock* clock_ = nullptr;
  bool connected_ = true;
  std::vector<Frame> log_;
};

}  // namespace pktd::test
