#include "time/clock.h"

namespace pktd::time {

const SteadyClock& SteadyClock::instance() {
  // Never destroyed: a wheel or a thread that outlives static destruction (a detached worker,
  // another static object) may still read the clock while the process exits.
  static const SteadyClock* const clock = new SteadyClock;
  return *clock;
}

}  // namespace pktd::time
