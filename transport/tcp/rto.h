// The retransmission timer's arithmetic (RFC 6298): a smoothed round-trip time (SRTT), its
// variation (RTTVAR) and the retransmission timeout (RTO) derived from them, with Karn's rule for
// which samples count and the exponential backoff on expiry. Pure arithmetic: the caller owns the
// timer, reads the clock and passes samples and times in; nothing here sleeps or reads a clock.
//
// Arithmetic is in integer nanoseconds (time::Duration), never floating point, so results are
// exact and repeatable. The gains alpha = 1/8 and beta = 1/4 and RTTVAR's first value R/2 are
// divisions; each is applied to the difference between the estimate and the sample
// (x + (sample - x) / n, the same as (1 - 1/n) x + sample / n) and the division rounds away from
// zero. So the estimate always moves at least 1 ns toward the sample, a run of equal samples
// brings SRTT to exactly R and RTTVAR to exactly 0, and no step is off by 1 ns or more: noise
// far below the clock granularity G (1 ms by default).
#pragma once

#include <chrono>
#include <cstdint>

#include "time/clock.h"

namespace pktd::tcp {

struct RtoConfig {
  // RFC 6298 (2.1): "Until a round-trip time (RTT) measurement has been made for a segment sent
  // between the sender and receiver, the sender SHOULD set RTO <- 1 second".
  time::Duration initial = std::chrono::seconds(1);
  // RFC 6298 (2.4) rounds RTO up to 1 second; Linux uses 200 ms (TCP_RTO_MIN), which pktd takes
  // as its default: on a LAN a 1 s floor makes every lost tail segment cost a second. Set 1 s to
  // follow the RFC to the letter.
  time::Duration minimum = std::chrono::milliseconds(200);
  // RFC 6298 (2.5): "A maximum value MAY be placed on RTO provided it is at least 60 seconds."
  // Linux uses 120 s (TCP_RTO_MAX), pktd's default.
  time::Duration maximum = std::chrono::seconds(120);
  // G, the clock granularity of RFC 6298 (2.2) and 4: the resolution of the timer that will run
  // the RTO, pktd's timing wheel tick (1 ms by default).
  time::Duration granularity = std::chrono::milliseconds(1);
};

class RtoEstimator {
 public:
  explicit RtoEstimator(RtoConfig config = {});

  // --- Samples ---
  // An ACK covering the segment being timed, sent at sent_at and acknowledged at acked_at.
  // RFC 6298 3 (Karn's algorithm): "RTT samples MUST NOT be made using segments that were
  // retransmitted (and thus for which it is ambiguous whether the reply was for the first instance
  // of the packet or a later instance)." A retransmitted segment gives no sample, and the backed
  // off RTO stays until a segment sent once is acknowledged. Returns whether a sample was taken
  // (false too for acked_at before sent_at, which only a clock set backwards can produce).
  bool sample_timed_segment(time::TimePoint sent_at, time::TimePoint acked_at, bool retransmitted);
  // A round-trip time measured with the Timestamps option: the timestamp clock now minus the
  // TSecr of an ACK, converted to a Duration by the caller (who owns the timestamp clock).
  // RFC 6298 3: "The only case when TCP can safely take RTT samples from retransmitted segments is
  // when the TCP timestamp option [JBB92] is employed, since the timestamp option removes the
  // ambiguity regarding which instance of the data segment triggered the acknowledgment." So
  // Karn's rule does not apply and every such ACK is a sample. The caller keeps RFC 7323 4.1's
  // rule: "A TSecr value received in a segment is used to update the averaged RTT measurement
  // only if the segment acknowledges some new data", i.e. advances SND.UNA (otherwise pauses in
  // the reverse flow would inflate the sample).
  //
  // With a sample per ACK, alpha and beta average over a shorter history than one sample per RTT
  // would (RFC 6298 3: "the alpha and beta defined in Section 2 may keep an inadequate RTT
  // history"). RFC 7323 Appendix G proposes dividing them by ExpectedSamples =
  // ceiling(FlightSize / (SMSS * 2)) per window; pktd keeps the gains RFC 6298 (2.3) says SHOULD
  // be used, as Linux does: RTO then follows change within a window rather than over several.
  // Returns whether a sample was taken (false for a negative rtt).
  bool sample_timestamp_echo(time::Duration rtt);

  // --- The timer ---
  // The retransmission timer expired. RFC 6298 (5.5): "The host MUST set RTO <- RTO * 2 ("back
  // off the timer"). The maximum value discussed in (2.5) above may be used to provide an upper
  // bound to this doubling operation."
  void on_timeout();
  // The three-way handshake completed after the timer expired awaiting the ACK of a SYN.
  // RFC 6298 (5.7): "If the timer expires awaiting the ACK of a SYN segment and the TCP
  // implementation is using an RTO less than 3 seconds, the RTO MUST be re-initialized to 3
  // seconds when data transmission begins (i.e., after the three-way handshake completes)."
  void on_data_after_syn_timeout();

  // --- Forgetting ---
  // RFC 6298 5: "a TCP implementation MAY clear SRTT and RTTVAR after backing off the timer
  // multiple times as it is likely that the current SRTT and RTTVAR are bogus in this situation.
  // Once SRTT and RTTVAR are cleared, they should be initialized with the next RTT sample taken
  // per (2.2) rather than using (2.3)." The backed off RTO stays until that sample.
  void forget_estimate();
  // The path changed (a new route, a new next hop): everything learnt is about the old one, so
  // start again from RFC 6298 (2.1).
  void reset();

  // --- State ---
  // Zero until the first sample (and after forget_estimate or reset).
  [[nodiscard]] time::Duration srtt() const { return srtt_; }
  [[nodiscard]] time::Duration rttvar() const { return rttvar_; }
  [[nodiscard]] bool has_estimate() const { return has_estimate_; }
  // What the retransmission timer is to be armed with: backed off, and within [minimum, maximum].
  [[nodiscard]] time::Duration rto() const { return rto_; }
  // Expiries since the last sample (the exponent of the backoff, however far max clamped it).
  [[nodiscard]] std::uint32_t backoff_count() const { return backoff_count_; }
  // Samples taken since construction or reset.
  [[nodiscard]] std::uint64_t sample_count() const { return sample_count_; }
  [[nodiscard]] const RtoConfig& config() const { return config_; }

 private:
  void take_sample(time::Duration r);
  void first_estimate(time::Duration r);
  void update_estimate(time::Duration r);
  void recompute_rto();
  [[nodiscard]] time::Duration clamped(time::Duration rto) const;

  RtoConfig config_;
  time::Duration srtt_{};
  time::Duration rttvar_{};
  time::Duration rto_{};
  bool has_estimate_ = false;
  std::uint32_t backoff_count_ = 0;
  std::uint64_t sample_count_ = 0;
};

}  // namespace pktd::tcp
