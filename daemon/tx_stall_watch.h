// The driver-mistake check for transmission: every quarter of the threshold, in the stack context,
// asks each interface whether packets have sat in its send queue with OACTIVE clear and no start
// call (Ifnet::check_tx_stall), the seed's "restarting transmission" mistake.
#pragma once

#include <chrono>
#include <cstdint>

#include "net/interfaces.h"
#include "runtime/runtime.h"
#include "time/timer_wheel.h"

namespace pktd::daemon {

class TxStallWatch {
 public:
  // threshold_ms 0: never checks.
  TxStallWatch(rt::Runtime& rt, net::Interfaces& ifs, uint32_t threshold_ms)
      : rt_(rt), ifs_(ifs), threshold_ms_(threshold_ms) {}
  TxStallWatch(const TxStallWatch&) = delete;
  TxStallWatch& operator=(const TxStallWatch&) = delete;

  // Stack context.
  void start() {
    if (threshold_ms_ == 0) return;
    rt_.callout_init(tick_);
    arm();
  }
  void stop() {
    if (threshold_ms_ != 0) rt_.callout_stop(tick_);
  }

 private:
  static void on_tick(void* arg) {
    auto* self = static_cast<TxStallWatch*>(arg);
    self->check_all();
    self->arm();
  }
  void arm() { rt_.callout_msec(tick_, period_ms(), on_tick, this); }
  uint32_t period_ms() const { return threshold_ms_ / 4 > 0 ? threshold_ms_ / 4 : 1; }
  void check_all() {
    int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      rt_.clock().now().time_since_epoch())
                      .count();
    for (net::Ifnet* ifp : ifs_.list())
      ifp->check_tx_stall(now, int64_t{threshold_ms_} * 1000000);
  }

  rt::Runtime& rt_;
  net::Interfaces& ifs_;
  const uint32_t threshold_ms_;
  time::Callout tick_;
};

}  // namespace pktd::daemon
