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
//  - a callback may arm, stop or re-arm any other callout;
//  - deadlines round up to the wheel's tick. A 0 ms callout is due at once: next_deadline()
//    reports a time already past and the next run_expired() runs it, even if the clock has not
//    moved;
//  - destroying a pending callout stops it; destroying the wheel leaves its callouts not
//    pending.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "time/clock.h"

namespace pktd::time {

using CalloutFn = void (*)(void* arg);

namespace detail {
// A node of an intrusive circular doubly linked list. Wheel slots, the zero-delay list and the
// list being expired are sentinel nodes, so a callout unlinks in O(1) from whichever list holds
// it, and a callback can stop a callout that is already queued to run in the same pass.
struct CalloutLink {
  CalloutLink() = default;
  // A linked node points at its neighbours (or at itself): copying it would corrupt a list.
  CalloutLink(const CalloutLink&) = delete;
  CalloutLink& operator=(const CalloutLink&) = delete;

  CalloutLink* prev = this;
  CalloutLink* next = this;
};
}  // namespace detail

// Intrusive: the owner embeds it (like io-pkt's struct callout). Must not move while pending.
class Callout : private detail::CalloutLink {
 public:
  Callout() = default;
  Callout(const Callout&) = delete;
  Callout& operator=(const Callout&) = delete;
  ~Callout();  // stops the callout if it is still pending, so its wheel never dangles into it

  bool pending() const { return wheel_ != nullptr; }
  CalloutFn function() const { return fn_; }
  void* argument() const { return arg_; }

  // Diagnostics only: the code that armed it (the runtime's watchdog names it).
  const void* armed_by = nullptr;

 private:
  friend class TimerWheel;
  class TimerWheel* wheel_ = nullptr;  // set while pending
  uint64_t deadline_tick_ = 0;         // zero-delay callouts: the tick they were armed in
  CalloutFn fn_ = nullptr;
  void* arg_ = nullptr;
};

class TimerWheel {
 public:
  // Told around every callback run_expired makes (the runtime's watchdog uses it).
  class Observer {
   public:
    virtual void before_callout(CalloutFn fn, const void* armed_by) = 0;
    virtual void after_callout() = 0;

   protected:
    ~Observer() = default;
  };
  void set_observer(Observer* observer) { observer_ = observer; }

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

  // Runs every callout due at clock.now(), one at a time. Returns how many ran. Called from a
  // callback (a nested pass) it does nothing and returns 0.
  size_t run_expired();
  // The earliest deadline among pending callouts, or none. May be early (never late) after a
  // stop: the runtime then wakes once for nothing and asks again.
  std::optional<TimePoint> next_deadline() const;
  size_t pending_count() const { return pending_count_; }
  const Clock& clock() const { return clock_; }

 private:
  using Link = detail::CalloutLink;

  uint64_t tick_of(TimePoint t) const;           // rounded down
  uint64_t tick_at_or_after(TimePoint t) const;  // rounded up
  TimePoint time_of(uint64_t tick) const;
  size_t slot_index(uint64_t tick) const;
  static Callout& callout_of(Link& node);
  static const Callout& callout_of(const Link& node);
  static void append(Link& list, Callout& c);
  static void unlink(Callout& c);
  static void splice_back(Link& to, Link& from);  // moves all of from to the end of to
  void detach(Callout& c);                        // unlinks c and makes it not pending
  void forget_list(Link& list);
  void note_deadline(uint64_t tick);
  void collect_due(uint64_t target_tick);
  void collect_from_slot(Link& slot, uint64_t target_tick);
  void sort_expiring_by_deadline();
  size_t run_collected();
  void end_pass(uint64_t target_tick);
  void recompute_earliest();
  std::optional<uint64_t> earliest_in_slots() const;
  static void lower_to_list_min(std::optional<uint64_t>& best, const Link& list);

  Observer* observer_ = nullptr;
  const Clock& clock_;
  Duration tick_;
  TimePoint origin_;
  std::vector<Link> slots_;      // list heads; never resized, so callouts may point into it
  uint64_t slot_mask_ = 0;       // slots - 1 when slots is a power of two, else 0 (use %)
  uint64_t current_tick_ = 0;    // every tick below this one has been processed
  size_t pending_count_ = 0;
  std::optional<uint64_t> earliest_tick_;  // a lower bound of every pending deadline
  Link ready_;                   // armed with 0 ms: due at the next run_expired()
  Link expiring_;                // callouts due in the pass in progress, in run order
  std::vector<Callout*> sort_scratch_;  // reused by the rare catch-up pass after a clock jump
  bool in_pass_ = false;
};

}  // namespace pktd::time
