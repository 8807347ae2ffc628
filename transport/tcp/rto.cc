#include "transport/tcp/rto.h"

#include <algorithm>
#include <cassert>

namespace pktd::tcp {

namespace {

using time::Duration;

// RFC 6298 (2.3): "The above SHOULD be computed using alpha=1/8 and beta=1/4"; (2.2): K = 4.
constexpr std::int64_t kAlphaDenominator = 8;
constexpr std::int64_t kBetaDenominator = 4;
constexpr std::int64_t kK = 4;
// RFC 6298 (5.7): the RTO to fall back to once data flows after a SYN timed out.
constexpr Duration kSynTimeoutFallback = std::chrono::seconds(3);

// n / d rounded away from zero (d > 0): a non-zero n always gives a non-zero quotient, so an
// estimate moved by it reaches a constant sample instead of stalling a few nanoseconds short.
std::int64_t divide_away_from_zero(std::int64_t n, std::int64_t d) {
  std::int64_t quotient = n / d;
  if (n % d == 0) return quotient;
  return n > 0 ? quotient + 1 : quotient - 1;
}

// x <- (1 - 1/d) x + (1/d) sample, written as a step of 1/d of the way from x to the sample.
Duration smoothed(Duration x, Duration sample, std::int64_t d) {
  return x + Duration{divide_away_from_zero((sample - x).count(), d)};
}

Duration magnitude(Duration d) { return d < Duration::zero() ? -d : d; }

// A configuration that the arithmetic can rely on; asserts in a debug build, mends in a release
// build so the arithmetic stays defined.
RtoConfig checked(RtoConfig c) {
  assert(c.granularity >= Duration::zero());
  assert(c.minimum >= Duration::zero() && c.minimum <= c.maximum);
  assert(c.initial > Duration::zero());
  c.granularity = std::max(c.granularity, Duration::zero());
  c.minimum = std::max(c.minimum, Duration::zero());
  c.maximum = std::max(c.maximum, c.minimum);
  return c;
}

}  // namespace

RtoEstimator::RtoEstimator(RtoConfig config) : config_(checked(config)) { reset(); }

bool RtoEstimator::sample_timed_segment(time::TimePoint sent_at, time::TimePoint acked_at,
                                        bool retransmitted) {
  // RFC 6298 3: Karn's algorithm; the ACK may answer any of the transmissions.
  if (retransmitted || acked_at < sent_at) return false;
  take_sample(acked_at - sent_at);
  return true;
}

bool RtoEstimator::sample_timestamp_echo(Duration rtt) {
  if (rtt < Duration::zero()) return false;
  take_sample(rtt);
  return true;
}

void RtoEstimator::take_sample(Duration r) {
  if (has_estimate_) {
    update_estimate(r);
  } else {
    first_estimate(r);
  }
  ++sample_count_;
  // RFC 6298 5: "once a new RTT measurement is obtained ..., the computations outlined in
  // Section 2 are performed, including the computation of RTO, which may result in "collapsing"
  // RTO back down after it has been doubled": the sample ends the backoff.
  backoff_count_ = 0;
  recompute_rto();
}

void RtoEstimator::first_estimate(Duration r) {
  // RFC 6298 (2.2): "When the first RTT measurement R is made, the host MUST set
  // SRTT <- R, RTTVAR <- R/2".
  srtt_ = r;
  rttvar_ = Duration{divide_away_from_zero(r.count(), 2)};
  has_estimate_ = true;
}

void RtoEstimator::update_estimate(Duration r) {
  // RFC 6298 (2.3): "When a subsequent RTT measurement R' is made, a host MUST set
  //   RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|
  //   SRTT <- (1 - alpha) * SRTT + alpha * R'
  // The value of SRTT used in the update to RTTVAR is its value before updating SRTT itself
  // using the second assignment."
  rttvar_ = smoothed(rttvar_, magnitude(srtt_ - r), kBetaDenominator);
  srtt_ = smoothed(srtt_, r, kAlphaDenominator);
}

void RtoEstimator::recompute_rto() {
  // RFC 6298 (2.2) and (2.3): "RTO <- SRTT + max (G, K*RTTVAR)"; 4: when K*RTTVAR is zero the
  // variance term is rounded up to G, so RTO stays above SRTT by at least a clock tick.
  rto_ = clamped(srtt_ + std::max(config_.granularity, kK * rttvar_));
}

Duration RtoEstimator::clamped(Duration rto) const {
  // RFC 6298 (2.4): "Whenever RTO is computed, if it is less than 1 second, then the RTO SHOULD
  // be rounded up to 1 second" (pktd: config_.minimum); (2.5): the maximum.
  return std::clamp(rto, config_.minimum, config_.maximum);
}

void RtoEstimator::on_timeout() {
  // RFC 6298 (5.5): RTO <- RTO * 2, bounded by the (2.5) maximum. Compared before doubling so
  // that no maximum, however large, overflows.
  rto_ = rto_ > config_.maximum / 2 ? config_.maximum : rto_ * 2;
  ++backoff_count_;
}

void RtoEstimator::on_data_after_syn_timeout() {
  // RFC 6298 (5.7): an RTO below 3 s is re-initialized to 3 s (a SYN lost or slow to answer says
  // little about the path, and 1 s may be shorter than its RTT; Appendix A). A longer RTO (a
  // further backoff, or an estimate) is kept.
  if (rto_ >= kSynTimeoutFallback) return;
  rto_ = clamped(kSynTimeoutFallback);
  backoff_count_ = 0;
}

void RtoEstimator::forget_estimate() {
  srtt_ = Duration::zero();
  rttvar_ = Duration::zero();
  has_estimate_ = false;
}

void RtoEstimator::reset() {
  forget_estimate();
  // RFC 6298 (2.1): no measurement yet, so the initial RTO.
  rto_ = clamped(config_.initial);
  backoff_count_ = 0;
  sample_count_ = 0;
}

}  // namespace pktd::tcp
