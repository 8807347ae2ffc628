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
  // Detach handshake: a worker counts itself in busy then checks dead; detach sets dead then
  // waits until busy is 0. Sequentially consistent, so one of them always sees the other. A
  // count, not a flag: once a run re-arms the fd, the next run may start on another worker
  // before the first has left, and the first leaving must not hide the second from detach.
  std::atomic<int> busy{0};
  std::atomic<bool> dead{false};
  // Bumped (release) just before the fd is re-armed and read (acquire) when a run starts, so
  // that a run is ordered after the one that re-armed it: epoll's own ordering is invisible to
  // ThreadSanitizer.
  std::atomic<unsigned> handoff{0};
  // Queued by hand_to_poller: epoll never fired it, so its registration is still armed and the
  // run that ends it must not re-arm it (a system call for nothing).
  std::atomic<bool> handed{false};
};

}  // namespace pktd::rt
