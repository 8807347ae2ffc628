// Callouts on a hashed timing wheel (Varghese & Lauck), owned by the stack context.
//
// The io-pkt callout API maps onto this: callout_init -> TimerWheel::init, callout_msec -> arm,
// callout_stop -> stop, callout_pending -> pending. The wheel itself is single-threaded: the
// runtime calls it only from the stack context (or forwards calls there).
//
// Rules the runtime relies on:
//  - a callback runs at most once per arm, from run_expired(), never before its deadline;
//  - a callout stopped before its callback started never runs, even when it was already due
//    in the same run_expired() pass;
//  - a callback may re-arm its own callout (it is no longer pending when called); a re-arm with
//    0 ms fires at the next run_expired(), not in the same pass;
//  - a callback may arm, stop or re-arm any other callout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "time/clock.h"

namespace pktd::time {

using CalloutFn = void (*)(void* arg);

// Intrusive: the owner embeds it (like io-pkt's struct callout). Must not move while pending.
class Callout {
 public:
  Callout() = default;
  Callout(const Callout&) = delete;
  Callout& operator=(const Callout&) = delete;
  ~Callout();  // a pending callout must be stopped before it is destroyed (checked in debug)

  bool pending() const { return wheel_ != nullptr; }
  CalloutFn function() const { return fn_; }
  void* argument() const { return arg_; }

 private:
  friend class TimerWheel;
  Callout* prev_ = nullptr;
  Callout* next_ = nullptr;
  class TimerWheel* wheel_ = nullptr;  // set while pending
  uint64_t deadline_tick_ = 0;
  CalloutFn fn_ = nullptr;
  void* arg_ = nullptr;
};

class TimerWheel {
 public:
  // tick: the wheel's resolution; deadlines are rounded up to a whole tick.
  explicit TimerWheel(const Clock& clock, Duration tick = std::chrono::milliseconds(1),
                      size_t slots = 512);
  ~TimerWheel();  // stops every pending callout
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // Resets a callout to the not-pending state (stops it if pending on this wheel).
  void init(Callout& c);
  // Arms c to call fn(arg) after ms milliseconds; re-arms (moves) it if already pending.
  void arm(Callout& c, uint32_t ms, CalloutFn fn, void* arg);
  // Cancels c. Returns true if it was pending.
  bool stop(Callout& c);
  static bool pending(const Callout& c) { return c.pending(); }

  // Runs every callout due at clock.now(), one at a time. Returns how many ran.
  size_t run_expired();
  // The earliest deadline among pending callouts, or none. May be early (never late) after a
  // stop: the runtime then wakes once for nothing and asks again.
  std::optional<TimePoint> next_deadline() const;
  size_t pending_count() const { return pending_count_; }
  const Clock& clock() const { return clock_; }

 private:
  uint64_t tick_of(TimePoint t) const;      // rounded down
  TimePoint time_of(uint64_t tick) const;
  void link(Callout& c);
  void unlink(Callout& c);
  void recompute_earliest();

  const Clock& clock_;
  Duration tick_;
  TimePoint origin_;
  std::vector<Callout*> slots_;  // list heads
  uint64_t current_tick_ = 0;    // every tick below this one has been processed
  size_t pending_count_ = 0;
  std::optional<uint64_t> earliest_tick_;
  Callout* expiring_ = nullptr;  // list of callouts due in the pass in progress
};

}  // namespace pktd::time
