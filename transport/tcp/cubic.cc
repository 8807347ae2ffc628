#include "transport/tcp/cubic.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace pktd::tcp {

namespace {

double seconds(time::Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

double Cubic::time_to_reach_w_max(double w_max, double cwnd_epoch) {
  return std::cbrt((w_max - cwnd_epoch) / kC);
}

double Cubic::w_cubic(double t) const {
  const double from_k = t - k_;
  return kC * from_k * from_k * from_k + w_max_;
}

std::uint32_t Cubic::octets(double segments) const {
  const double value = std::clamp(segments * mss(), 0.0, static_cast<double>(kMaxWindow));
  return static_cast<std::uint32_t>(value);
}

// RFC 9438 4.6: "ssthresh = flight_size * beta_cubic", at least 2 segments. flight_size rather than
// cwnd: a sender that did not fill its window must not keep the unused part (4.6 allows cwnd only
// with measures against that). The next congestion avoidance stage starts afresh.
double Cubic::begin_reduction(std::uint32_t in_flight) {
  cwnd_prior_ = segments(exact_cwnd());
  epoch_start_.reset();
  return std::max(segments(in_flight) * kBeta, 2.0);
}

// RFC 9438 4.6 and 4.7: W_max remembers where the loss happened. With fast convergence, a loss
// below the previous W_max means a new flow is taking its share, so this flow gives more room:
// W_max = cwnd * (1 + beta_cubic) / 2. cwnd becomes ssthresh (the base class's recovery adds the
// RFC 5681 inflation when the connection recovers without SACK).
std::uint32_t Cubic::ssthresh_after_loss(const LossEvent& loss) {
  const double cwnd = segments(exact_cwnd());
  const bool losing_ground = fast_convergence_ && cwnd < w_max_;
  w_max_ = losing_ground ? cwnd * (1.0 + kBeta) / 2.0 : cwnd;
  restarting_after_timeout_ = false;
  return octets(begin_reduction(loss.in_flight));
}

// RFC 9438 4.8: on a timeout CUBIC "follows Reno to reduce cwnd" (the base class sets the loss
// window) "but sets ssthresh using beta_cubic (same as in Section 4.6)"; the stage that follows
// grows from K = 0 with W_max = cwnd_epoch.
std::uint32_t Cubic::ssthresh_after_timeout(std::uint32_t in_flight, time::TimePoint /*now*/) {
  restarting_after_timeout_ = true;
  return octets(begin_reduction(in_flight));
}

// RFC 9438 4.2: an epoch is the congestion avoidance stage; it starts with the first ACK after
// recovery or slow start, with cwnd_epoch the window then. W_max at or below cwnd_epoch (no loss
// yet, or the stage after a timeout, 4.8) leaves no concave part to climb: K = 0 and the curve
// starts flat from cwnd_epoch, as 4.8 prescribes, rather than from a negative K.
// RFC 9438 4.3: W_est starts at cwnd_epoch.
void Cubic::begin_epoch(time::TimePoint now) {
  const double cwnd_epoch = segments(exact_cwnd());
  epoch_start_ = now;
  last_ack_ = now;
  if (restarting_after_timeout_ || cwnd_epoch >= w_max_) {
    w_max_ = cwnd_epoch;
    k_ = 0;
  } else {
    k_ = time_to_reach_w_max(w_max_, cwnd_epoch);
  }
  w_est_ = cwnd_epoch;
  restarting_after_timeout_ = false;
}

// RFC 9438 5.8: "CUBIC does not increase cwnd when a flow is application limited", and 4.2: t
// "MUST NOT include periods during which cwnd has not been updated due to application-limited
// behavior". The window was in use if less than a segment of it was left unsent when the ACK came.
bool Cubic::window_was_in_use(const AckedData& ack) const {
  return std::uint64_t{ack.in_flight} + mss() > cwnd();
}

// RFC 9438 4.3 Figure 4: W_est = W_est + alpha_cubic * segments_acked / cwnd; "Once W_est has grown
// to reach the cwnd at the time of most recently setting ssthresh -- that is, W_est >= cwnd_prior
// -- the sender SHOULD set alpha_cubic to 1", Reno's own rate.
void Cubic::update_w_est(double acked, double cwnd) {
  const double alpha = w_est_ >= cwnd_prior_ ? 1.0 : kAlpha;
  w_est_ += alpha * acked / cwnd;
}

// RFC 9438 4.2: the target is W_cubic(t + RTT), bounded below by cwnd (an ACK never shrinks the
// window) and above by 1.5 * cwnd (growth stays below slow start's).
double Cubic::cubic_target(double t_after_next_rtt, double cwnd) const {
  return std::clamp(w_cubic(t_after_next_rtt), cwnd, 1.5 * cwnd);
}

// RFC 9438 4.3-4.5. Where W_cubic(t) is below W_est the flow is in the Reno-friendly region and
// cwnd = W_est (4.3); otherwise, concave (cwnd < W_max, 4.4) or convex (4.5) alike, cwnd grows by
// (target - cwnd) / cwnd per ACK, here per segment an ACK covers (4.2 "for each received new ACK"
// assumes one segment per ACK).
void Cubic::grow_in_congestion_avoidance(const AckedData& ack) {
  if (!epoch_start_) begin_epoch(ack.now);
  if (!window_was_in_use(ack)) {
    *epoch_start_ += ack.now - last_ack_;  // keep the application-limited time out of t
    last_ack_ = ack.now;
    return;
  }
  last_ack_ = ack.now;
  const double cwnd = segments(exact_cwnd());
  const double acked = segments(ack.octets);
  const double t = seconds(ack.now - *epoch_start_);
  const double rtt = ack.srtt ? seconds(*ack.srtt) : 0.0;
  update_w_est(acked, cwnd);
  double next = 0;
  if (w_cubic(t) < w_est_) {
    next = std::max(cwnd, w_est_);
  } else {
    next = cwnd + (cubic_target(t + rtt, cwnd) - cwnd) / cwnd * acked;
  }
  set_cwnd(next * mss());
}

}  // namespace pktd::tcp
