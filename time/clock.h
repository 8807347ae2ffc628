// Time is an input: the stack reads it only through a Clock, so tests can drive it by hand.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace pktd::time {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

// CLOCK_MONOTONIC; what pktd runs on.
class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  static const SteadyClock& instance();
};

// A clock that moves only when told; safe to read from several threads.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{}) : now_ns_(start.time_since_epoch().count()) {}
  TimePoint now() const override {
    return TimePoint{Duration{now_ns_.load(std::memory_order_acquire)}};
  }
  void advance(Duration d) { now_ns_.fetch_add(d.count(), std::memory_order_acq_rel); }
  void set(TimePoint t) { now_ns_.store(t.time_since_epoch().count(), std::memory_order_release); }

 private:
  std::atomic<int64_t> now_ns_;
};

}  // namespace pktd::time
