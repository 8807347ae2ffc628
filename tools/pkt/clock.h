// Time and stop signals for pkt's loops (ping, capture), injected so that a test drives them
// with a fake clock.
#pragma once

#include <chrono>
#include <functional>

namespace pktd::pkt {

struct Clock {
  using Time = std::chrono::steady_clock::time_point;
  std::function<Time()> now;
  // Sleeps; returns early when interrupted.
  std::function<void(std::chrono::nanoseconds)> sleep;
  // True once the user asked to stop (SIGINT, SIGTERM).
  std::function<bool()> interrupted;
};

// While one lives, SIGINT and SIGTERM do not kill pkt but make system_clock().interrupted()
// true and cut a sleep short; a second signal kills as usual (SA_RESETHAND). The destructor
// restores the previous handlers.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
};

// The steady clock, nanosleep, and the flag StopSignals sets.
Clock system_clock();

}  // namespace pktd::pkt
