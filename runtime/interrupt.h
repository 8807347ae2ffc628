// Interrupt sources as the workers see them (internal to runtime/).
#pragma once

#include <atomic>

#include "runtime/runtime.h"

namespace pktd::rt {

struct InterruptEvent {
  Interrupt* irq;
};

class Interrupt {
 public:
  // Software sources move idle -> queued (interrupt_queue) -> active (a worker took the event)
  // -> idle (just before enable), so a driver thread that calls interrupt_queue while process
  // runs gets nothing, and one that calls it after enable gets a new event.
  enum State : int { idle = 0, queued = 1, active = 2 };

  Interrupt(InterruptSpec s, int event_fd) : spec(std::move(s)), fd(event_fd), event{this} {}

  InterruptSpec spec;
  int fd;                 // the fd in the epoll set: the driver's, or our eventfd
  bool software = false;  // fd is our eventfd
  InterruptEvent event;
  std::atomic<int> state{idle};
  // Detach handshake: a worker sets busy then checks dead; detach sets dead then waits while
  // busy. Sequentially consistent, so one of them always sees the other.
  std::atomic<bool> busy{false};
  std::atomic<bool> dead{false};
};

}  // namespace pktd::rt
