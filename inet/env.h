// What the protocol stack needs from the world, and nothing more (DESIGN.md: the stack makes no
// system calls, creates no threads, reads time only from an injected clock).
//
// pktd gives it the runtime's clock, callouts and post (daemon/stack_env.cc); tests give it a
// manual clock, a timing wheel and a queue they run by hand (tests/support/test_env.h).
#pragma once

#include <cstdint>
#include <functional>

#include "time/clock.h"
#include "time/timer_wheel.h"

namespace pktd::inet {

class Env {
 public:
  virtual ~Env() = default;
  virtual const time::Clock& clock() const = 0;
  // Callouts, as the seed's callout_msec/callout_stop: callbacks run in the stack context.
  virtual void timer_init(time::Callout& c) = 0;
  virtual void timer_arm(time::Callout& c, uint32_t ms, time::CalloutFn fn, void* arg) = 0;
  virtual bool timer_stop(time::Callout& c) = 0;
  // Runs fn in the stack context soon. Callable from any thread (drivers' receive path).
  virtual void post(std::function<void()> fn) = 0;
  // Wall-clock time for capture timestamps (ns since the epoch).
  virtual int64_t wall_clock_ns() const = 0;
};

}  // namespace pktd::inet
