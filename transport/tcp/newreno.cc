#include "transport/tcp/newreno.h"

#include <algorithm>

namespace pktd::tcp {

// RFC 5681 3.1 (4): ssthresh = max(FlightSize / 2, 2*SMSS). FlightSize, not cwnd: cwnd may exceed
// what was actually sent. The byte count restarts with the new window (RFC 3465 2.1).
std::uint32_t NewReno::half_the_flight(std::uint32_t in_flight) {
  acked_since_growth_ = 0;
  return std::max(in_flight / 2, 2 * mss());
}

// RFC 5681 3.2 step 2 uses equation (4) too.
std::uint32_t NewReno::ssthresh_after_loss(const LossEvent& loss) { return half_the_flight(loss.in_flight); }

std::uint32_t NewReno::ssthresh_after_timeout(std::uint32_t in_flight, time::TimePoint /*now*/) {
  return half_the_flight(in_flight);
}

// RFC 5681 3.1 recommends counting the octets acknowledged over using equation (3)
// (cwnd += SMSS*SMSS/cwnd per ACK), which undercounts when ACKs cover several segments. RFC 3465
// 2.1: "When bytes_acked becomes greater than or equal to the value of the congestion window,
// bytes_acked is reduced by the value of cwnd. Next, cwnd is incremented by a full-sized segment".
// That is one SMSS per window of data acknowledged: one per round trip.
void NewReno::grow_in_congestion_avoidance(const AckedData& ack) {
  acked_since_growth_ += ack.octets;
  if (acked_since_growth_ < cwnd()) return;
  acked_since_growth_ -= cwnd();
  set_cwnd(static_cast<std::uint32_t>(std::min<std::uint64_t>(std::uint64_t{cwnd()} + mss(), kMaxWindow)));
}

}  // namespace pktd::tcp
