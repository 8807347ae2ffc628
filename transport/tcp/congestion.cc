#include "transport/tcp/congestion.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "transport/tcp/cubic.h"
#include "transport/tcp/newreno.h"

namespace pktd::tcp {

CongestionControl::CongestionControl(std::uint32_t mss)
    : mss_(std::max<std::uint32_t>(mss, 1)), cwnd_(initial_window(mss_)) {}

void CongestionControl::set_cwnd(std::uint32_t octets) {
  cwnd_ = std::min(octets, kMaxWindow);
  cwnd_fraction_ = 0;
}

void CongestionControl::set_cwnd(double octets) {
  const double bounded = std::clamp(octets, 0.0, static_cast<double>(kMaxWindow));
  const double whole = std::floor(bounded);
  cwnd_ = static_cast<std::uint32_t>(whole);
  cwnd_fraction_ = bounded - whole;
}

void CongestionControl::on_ack(const AckedData& ack) {
  // SND.UNA moved, so the segment the timer retransmitted has arrived (RFC 5681 3.1).
  timed_out_without_progress_ = false;
  if (ack.octets == 0) return;
  if (in_recovery_) {
    deflate_for_partial_ack(ack.octets);
  } else if (in_slow_start()) {
    grow_in_slow_start(ack);
  } else {
    grow_in_congestion_avoidance(ack);
  }
}

// RFC 5681 3.1 (2): cwnd += min(N, SMSS). pktd takes RFC 3465's appropriate byte counting with
// L = 2*SMSS (2.2: a TCP MAY use it), which 3.2 there shows exactly balances a receiver that ACKs
// every other segment (RFC 9293 3.8.6.3's delayed ACKs); slow start after a timeout keeps
// L = 1*SMSS (RFC 3465 2.3), since one cumulative ACK may then cover much retransmitted data.
// Slow start stops at ssthresh, where congestion avoidance takes over.
void CongestionControl::grow_in_slow_start(const AckedData& ack) {
  const std::uint32_t limit = slow_start_after_timeout_ ? mss_ : 2 * mss_;
  const std::uint64_t grown = std::uint64_t{cwnd_} + std::min(ack.octets, limit);
  set_cwnd(static_cast<std::uint32_t>(std::min<std::uint64_t>(grown, ssthresh_)));
  if (!in_slow_start()) slow_start_after_timeout_ = false;
}

// RFC 5681 3.2 step 4: each further duplicate ACK means a segment has left the network, so cwnd
// grows by SMSS to let a new one in. With SACK (RFC 6675) the pipe estimate counts that instead.
void CongestionControl::on_duplicate_ack() {
  if (!in_recovery_ || recovery_mode_ != RecoveryMode::kNewReno) return;
  set_cwnd(static_cast<std::uint32_t>(std::min<std::uint64_t>(std::uint64_t{cwnd_} + mss_, kMaxWindow)));
}

// RFC 6582 3.2 step 3, partial acknowledgments: "Deflate the congestion window by the amount of new
// data acknowledged by the Cumulative Acknowledgment field. If the partial ACK acknowledges at
// least one SMSS of new data, then add back SMSS bytes". The window never closes below one segment
// (RFC 5681's loss window), so the retransmission the partial ACK calls for can go out.
void CongestionControl::deflate_for_partial_ack(std::uint32_t acked) {
  if (recovery_mode_ != RecoveryMode::kNewReno) return;
  std::uint32_t deflated = cwnd_ > acked ? cwnd_ - acked : 0;
  if (acked >= mss_) deflated += mss_;
  set_cwnd(std::max(deflated, mss_));
}

// RFC 5681 3.2 steps 2-3 (RFC 6582 3.2 step 2): ssthresh falls by the algorithm's factor, then
// cwnd = ssthresh + 3*SMSS, the three duplicate ACKs being three segments that have left the
// network. RFC 6675 5 step (4.2) sets cwnd = ssthresh, since with SACK the pipe counts them.
void CongestionControl::on_enter_recovery(const LossEvent& loss) {
  if (in_recovery_) return;  // one reduction per window of data (RFC 6582 3.2 step 2)
  ssthresh_ = ssthresh_after_loss(loss);
  const std::uint32_t inflation = loss.mode == RecoveryMode::kNewReno ? 3 * mss_ : 0;
  set_cwnd(ssthresh_ + inflation);
  in_recovery_ = true;
  recovery_mode_ = loss.mode;
  slow_start_after_timeout_ = false;
}

// RFC 6582 3.2 step 3, full acknowledgments: "Set cwnd to either (1) min (ssthresh, max(FlightSize,
// SMSS) + SMSS) or (2) ssthresh". pktd takes (1): with little data outstanding, (2) would allow a
// burst of nearly ssthresh at once, and pktd does not pace. The same applies after SACK recovery.
void CongestionControl::on_exit_recovery(std::uint32_t in_flight, time::TimePoint /*now*/) {
  if (!in_recovery_) return;
  in_recovery_ = false;
  const std::uint32_t outstanding_plus_one = std::max(in_flight, mss_) + mss_;
  set_cwnd(std::min(ssthresh_, outstanding_plus_one));
}

// RFC 5681 3.1: after a timeout ssthresh falls (equation (4) for Reno, RFC 9438 4.8 for CUBIC)
// unless the timer had already retransmitted this segment, in which case "the value of ssthresh is
// held constant"; cwnd is set to the loss window, LW = 1 SMSS. Recovery ends (RFC 6582 3.2 step 4,
// RFC 6675 5.1).
void CongestionControl::on_timeout(std::uint32_t in_flight, time::TimePoint now) {
  if (!timed_out_without_progress_) ssthresh_ = ssthresh_after_timeout(in_flight, now);
  timed_out_without_progress_ = true;
  in_recovery_ = false;
  slow_start_after_timeout_ = true;
  set_cwnd(mss_);
}

namespace {

constexpr std::array<std::string_view, 2> kNames = {Cubic::kName, NewReno::kName};
static_assert(kNames[0] == kDefaultCongestionControl);

}  // namespace

std::span<const std::string_view> congestion_control_names() { return kNames; }

std::unique_ptr<CongestionControl> make_congestion_control(std::string_view name, std::uint32_t mss) {
  if (name == Cubic::kName) return std::make_unique<Cubic>(mss);
  if (name == NewReno::kName) return std::make_unique<NewReno>(mss);
  return nullptr;
}

}  // namespace pktd::tcp
