// The retransmission timeout's arithmetic (RFC 6298), Karn's algorithm and timestamps (RFC 7323).
// Times are values: no clock is read and nothing sleeps.
#include <gtest/gtest.h>

#include <chrono>

#include "transport/tcp/rto.h"

namespace pktd::tcp {
namespace {

using namespace std::chrono_literals;
using time::Duration;
using time::TimePoint;

// A configuration whose clamps stay out of the way, to see the formulas themselves.
RtoConfig unclamped(Duration granularity = 1ms) {
  return RtoConfig{.initial = 1s, .minimum = 0ns, .maximum = 1000s, .granularity = granularity};
}

// An ACK for a segment sent once, rtt after it left.
bool sample(RtoEstimator& rto, Duration rtt) {
  TimePoint sent{1000s};
  return rto.sample_timed_segment(sent, sent + rtt, /*retransmitted=*/false);
}

void sample_n(RtoEstimator& rto, Duration rtt, int n) {
  for (int i = 0; i < n; ++i) ASSERT_TRUE(sample(rto, rtt));
}

TEST(TcpRto, StartsAtOneSecondWithoutAnEstimate) {
  RtoEstimator rto;  // RFC 6298 (2.1)
  EXPECT_EQ(rto.rto(), 1s);
  EXPECT_FALSE(rto.has_estimate());
  EXPECT_EQ(rto.srtt(), 0ns);
  EXPECT_EQ(rto.rttvar(), 0ns);
  EXPECT_EQ(rto.backoff_count(), 0u);
  EXPECT_EQ(rto.sample_count(), 0u);
  // The defaults: Linux's bounds, the timing wheel's 1 ms tick.
  EXPECT_EQ(rto.config().minimum, 200ms);
  EXPECT_EQ(rto.config().maximum, 120s);
  EXPECT_EQ(rto.config().granularity, 1ms);
}

TEST(TcpRto, FirstSampleSetsSrttToRAndRttvarToHalfOfIt) {
  RtoEstimator rto;
  ASSERT_TRUE(sample(rto, 100ms));
  // RFC 6298 (2.2): SRTT = R, RTTVAR = R/2, RTO = SRTT + max(G, 4 RTTVAR) = 100 + 200 ms.
  EXPECT_TRUE(rto.has_estimate());
  EXPECT_EQ(rto.srtt(), 100ms);
  EXPECT_EQ(rto.rttvar(), 50ms);
  EXPECT_EQ(rto.rto(), 300ms);
  EXPECT_EQ(rto.sample_count(), 1u);
}

TEST(TcpRto, SubsequentSamplesFollowTheFormulasExactly) {
  RtoEstimator rto(unclamped());
  ASSERT_TRUE(sample(rto, 80ms));  // SRTT 80, RTTVAR 40, RTO 80 + 160 = 240 ms
  EXPECT_EQ(rto.rto(), 240ms);
  // RFC 6298 (2.3), RTTVAR first with the old SRTT:
  //   RTTVAR = 3/4 * 40 + 1/4 * |80 - 160| = 30 + 20 = 50 ms
  //   SRTT   = 7/8 * 80 + 1/8 * 160        = 70 + 20 = 90 ms
  //   RTO    = 90 + 4 * 50                              = 290 ms
  ASSERT_TRUE(sample(rto, 160ms));
  EXPECT_EQ(rto.rttvar(), 50ms);
  EXPECT_EQ(rto.srtt(), 90ms);
  EXPECT_EQ(rto.rto(), 290ms);
  //   RTTVAR = 3/4 * 50 + 1/4 * |90 - 10| = 37.5 + 20 = 57.5 ms
  //   SRTT   = 7/8 * 90 + 1/8 * 10        = 78.75 + 1.25 = 80 ms
  //   RTO    = 80 + 4 * 57.5                            = 310 ms
  ASSERT_TRUE(sample(rto, 10ms));
  EXPECT_EQ(rto.rttvar(), 57500us);
  EXPECT_EQ(rto.srtt(), 80ms);
  EXPECT_EQ(rto.rto(), 310ms);
  EXPECT_EQ(rto.sample_count(), 3u);
}

TEST(TcpRto, FractionsOfANanosecondRoundAwayFromZero) {
  RtoEstimator rto(unclamped());
  // R/2 of an odd count rounds up: RTTVAR = 1 ms + 0.5 ns -> 1 ms + 1 ns.
  ASSERT_TRUE(sample(rto, 2ms + 1ns));
  EXPECT_EQ(rto.rttvar(), 1ms + 1ns);
  // Three nanoseconds above SRTT: SRTT moves up by 3/8 ns -> 1 ns; RTTVAR moves down by
  // (3 - (1 ms + 1 ns)) / 4, a quarter millisecond less 0.5 ns -> rounded to 250000 ns less.
  ASSERT_TRUE(sample(rto, 2ms + 4ns));
  EXPECT_EQ(rto.srtt(), 2ms + 2ns);
  EXPECT_EQ(rto.rttvar(), 1ms + 1ns - 250000ns);
  // Below SRTT the step rounds down: 2 ns under moves SRTT by -2/8 -> -1 ns.
  ASSERT_TRUE(sample(rto, 2ms));
  EXPECT_EQ(rto.srtt(), 2ms + 1ns);
}

TEST(TcpRto, ConstantSamplesConvergeToTheSampleAndNoVariation) {
  // Start far away (the first sample 20 ms), then 300 ms over and over.
  RtoEstimator rto(unclamped());
  ASSERT_TRUE(sample(rto, 20ms));
  sample_n(rto, 300ms, 400);
  // Exactly: rounding away from zero never lets the estimate stall short of the sample.
  EXPECT_EQ(rto.srtt(), 300ms);
  EXPECT_EQ(rto.rttvar(), 0ns);
  EXPECT_EQ(rto.rto(), 301ms);  // R + G: RFC 6298 4 rounds a zero variance term up to G

  // With the defaults a short path ends at the 200 ms floor: max(min, R + G).
  RtoEstimator lan;
  sample_n(lan, 5ms, 400);
  EXPECT_EQ(lan.srtt(), 5ms);
  EXPECT_EQ(lan.rttvar(), 0ns);
  EXPECT_EQ(lan.rto(), 200ms);
  RtoEstimator wan;
  sample_n(wan, 250ms, 400);
  EXPECT_EQ(wan.rto(), 251ms);
}

TEST(TcpRto, AStepChangeRaisesTheVariationAtOnceAndSrttAnEighthAtATime) {
  RtoEstimator rto(unclamped());
  sample_n(rto, 100ms, 400);
  ASSERT_EQ(rto.rto(), 101ms);
  // The path's RTT jumps to 300 ms:
  //   RTTVAR = 3/4 * 0 + 1/4 * 200 = 50 ms, SRTT = 100 + 200/8 = 125 ms, RTO = 125 + 200 = 325.
  ASSERT_TRUE(sample(rto, 300ms));
  EXPECT_EQ(rto.rttvar(), 50ms);
  EXPECT_EQ(rto.srtt(), 125ms);
  EXPECT_EQ(rto.rto(), 325ms);
  // The variation term covers the new RTT from the first sample on, and the estimate settles.
  for (int i = 0; i < 400; ++i) {
    ASSERT_TRUE(sample(rto, 300ms));
    ASSERT_GT(rto.rto(), 300ms) << "after " << i + 2 << " samples of 300 ms";
  }
  EXPECT_EQ(rto.srtt(), 300ms);
  EXPECT_EQ(rto.rto(), 301ms);
}

TEST(TcpRto, GranularityIsTheLeastVariationTerm) {
  // A steady 50 ms path: RTO = SRTT + G once RTTVAR has decayed.
  RtoEstimator fine(unclamped(1ms)), coarse(unclamped(100ms));
  sample_n(fine, 50ms, 400);
  sample_n(coarse, 50ms, 400);
  EXPECT_EQ(fine.rto(), 51ms);
  EXPECT_EQ(coarse.rto(), 150ms);
  // While 4 RTTVAR exceeds G, G does not count: first sample 50 ms gives 4 RTTVAR = 100 ms.
  RtoEstimator first(unclamped(10ms));
  ASSERT_TRUE(sample(first, 50ms));
  EXPECT_EQ(first.rto(), 150ms);
  // ... and where it is less, G replaces it: R = 1 ms gives 4 RTTVAR = 2 ms < G = 10 ms.
  RtoEstimator tiny(unclamped(10ms));
  ASSERT_TRUE(sample(tiny, 1ms));
  EXPECT_EQ(tiny.rto(), 11ms);
  // A zero-time sample (a timestamp clock too coarse to see the RTT) leaves RTO = G.
  RtoEstimator zero(unclamped(1ms));
  ASSERT_TRUE(zero.sample_timestamp_echo(0ns));
  EXPECT_EQ(zero.rto(), 1ms);
}

TEST(TcpRto, ClampsToTheMinimumAndMaximum) {
  RtoEstimator linux_bounds;
  ASSERT_TRUE(sample(linux_bounds, 10ms));  // 10 + 20 = 30 ms, raised to 200 ms
  EXPECT_EQ(linux_bounds.rto(), 200ms);
  linux_bounds.reset();
  ASSERT_TRUE(sample(linux_bounds, 100s));  // 100 + 200 s, lowered to 120 s
  EXPECT_EQ(linux_bounds.rto(), 120s);
  EXPECT_EQ(linux_bounds.srtt(), 100s);  // the estimate itself is not clamped

  // RFC 6298 to the letter: (2.4) a 1 s floor, (2.5) a 60 s ceiling.
  RtoEstimator rfc(RtoConfig{.minimum = 1s, .maximum = 60s});
  ASSERT_TRUE(sample(rfc, 100ms));  // 300 ms, raised to 1 s
  EXPECT_EQ(rfc.rto(), 1s);
  ASSERT_TRUE(sample(rfc, 100s));  // SRTT about 12.6 s, 4 RTTVAR about 100 s: lowered to 60 s
  EXPECT_EQ(rfc.rto(), 60s);
}

TEST(TcpRto, TimeoutsDoubleUpToTheMaximumAndASampleEndsTheBackoff) {
  RtoEstimator rto;
  ASSERT_TRUE(sample(rto, 100ms));
  ASSERT_EQ(rto.rto(), 300ms);
  // RFC 6298 (5.5): 300 ms doubles to 600 ms, 1.2 s, ... 76.8 s, then the 120 s maximum.
  Duration expected = 300ms;
  for (std::uint32_t n = 1; n <= 9; ++n) {
    rto.on_timeout();
    expected = std::min<Duration>(expected * 2, 120s);
    EXPECT_EQ(rto.rto(), expected);
    EXPECT_EQ(rto.backoff_count(), n);
  }
  EXPECT_EQ(rto.rto(), 120s);
  rto.on_timeout();  // stays at the maximum, still counted
  EXPECT_EQ(rto.rto(), 120s);
  EXPECT_EQ(rto.backoff_count(), 10u);
  // RFC 6298 5: a new sample recomputes RTO from SRTT and RTTVAR ("collapsing" it) and ends the
  // backoff. RTTVAR = 3/4 * 50 + 0 = 37.5 ms; SRTT = 100 ms; RTO = 100 + 150 = 250 ms.
  ASSERT_TRUE(sample(rto, 100ms));
  EXPECT_EQ(rto.backoff_count(), 0u);
  EXPECT_EQ(rto.rto(), 250ms);
}

TEST(TcpRto, BackoffAppliesBeforeAnySample) {
  // RFC 6298 (2.1): the initial 1 s is backed off like any other RTO.
  RtoEstimator rto;
  rto.on_timeout();
  rto.on_timeout();
  EXPECT_EQ(rto.rto(), 4s);
  EXPECT_EQ(rto.backoff_count(), 2u);
  EXPECT_FALSE(rto.has_estimate());
}

TEST(TcpRto, DoublingNeverOverflowsAHugeMaximum) {
  RtoEstimator rto(RtoConfig{.maximum = Duration::max()});
  for (int i = 0; i < 100; ++i) rto.on_timeout();
  EXPECT_EQ(rto.rto(), Duration::max());
}

TEST(TcpRto, KarnARetransmittedSegmentGivesNoSample) {
  RtoEstimator rto;
  ASSERT_TRUE(sample(rto, 100ms));
  rto.on_timeout();
  ASSERT_EQ(rto.rto(), 600ms);
  // RFC 6298 3: the ACK of a retransmitted segment may answer either transmission.
  TimePoint sent{5s};
  EXPECT_FALSE(rto.sample_timed_segment(sent, sent + 10ms, /*retransmitted=*/true));
  EXPECT_EQ(rto.sample_count(), 1u);
  EXPECT_EQ(rto.srtt(), 100ms);
  EXPECT_EQ(rto.rttvar(), 50ms);
  // The backed off RTO stays until a segment sent once is acknowledged.
  EXPECT_EQ(rto.rto(), 600ms);
  EXPECT_EQ(rto.backoff_count(), 1u);
  EXPECT_TRUE(rto.sample_timed_segment(sent, sent + 100ms, /*retransmitted=*/false));
  EXPECT_EQ(rto.backoff_count(), 0u);
  EXPECT_EQ(rto.rto(), 250ms);  // 100 + 4 * 37.5 ms
}

TEST(TcpRto, TimestampsGiveSamplesEvenAfterARetransmission) {
  RtoEstimator rto;
  ASSERT_TRUE(rto.sample_timestamp_echo(100ms));
  rto.on_timeout();
  rto.on_timeout();
  ASSERT_EQ(rto.rto(), 1200ms);
  // The ACK of the retransmission echoes the retransmission's TSval: no ambiguity (RFC 6298 3).
  EXPECT_TRUE(rto.sample_timestamp_echo(100ms));
  EXPECT_EQ(rto.sample_count(), 2u);
  EXPECT_EQ(rto.backoff_count(), 0u);
  EXPECT_EQ(rto.rto(), 250ms);
}

TEST(TcpRto, ImpossibleSamplesAreRefused) {
  RtoEstimator rto;
  TimePoint sent{5s};
  EXPECT_FALSE(rto.sample_timed_segment(sent, sent - 1ms, false));  // a clock set backwards
  EXPECT_FALSE(rto.sample_timestamp_echo(-1ms));
  EXPECT_EQ(rto.sample_count(), 0u);
  EXPECT_EQ(rto.rto(), 1s);
  // Acknowledged in the same instant it was sent is a (zero) sample, not an error.
  EXPECT_TRUE(rto.sample_timed_segment(sent, sent, false));
}

TEST(TcpRto, DataAfterASynTimeoutStartsFromThreeSeconds) {
  // RFC 6298 (5.7): the SYN timed out once (RTO 2 s, below 3 s), no sample from the handshake.
  RtoEstimator once;
  once.on_timeout();
  once.on_data_after_syn_timeout();
  EXPECT_EQ(once.rto(), 3s);
  EXPECT_EQ(once.backoff_count(), 0u);
  // Twice: 4 s is not below 3 s and stays.
  RtoEstimator twice;
  twice.on_timeout();
  twice.on_timeout();
  twice.on_data_after_syn_timeout();
  EXPECT_EQ(twice.rto(), 4s);
  // The next sample takes over as usual.
  ASSERT_TRUE(sample(once, 100ms));
  EXPECT_EQ(once.rto(), 300ms);
}

TEST(TcpRto, ForgettingTheEstimateKeepsTheBackoffUntilTheNextSample) {
  RtoEstimator rto;
  ASSERT_TRUE(sample(rto, 100ms));
  for (int i = 0; i < 4; ++i) rto.on_timeout();
  ASSERT_EQ(rto.rto(), 4800ms);
  // RFC 6298 5: after several backoffs SRTT and RTTVAR may be bogus; clear them.
  rto.forget_estimate();
  EXPECT_FALSE(rto.has_estimate());
  EXPECT_EQ(rto.rto(), 4800ms);
  EXPECT_EQ(rto.backoff_count(), 4u);
  // The next sample is a first one again (2.2), not an update (2.3).
  ASSERT_TRUE(sample(rto, 2s));
  EXPECT_EQ(rto.srtt(), 2s);
  EXPECT_EQ(rto.rttvar(), 1s);
  EXPECT_EQ(rto.rto(), 6s);
  EXPECT_EQ(rto.sample_count(), 2u);
}

TEST(TcpRto, ResetStartsAgainForANewPath) {
  RtoEstimator rto;
  sample_n(rto, 100ms, 10);
  rto.on_timeout();
  rto.reset();
  EXPECT_FALSE(rto.has_estimate());
  EXPECT_EQ(rto.srtt(), 0ns);
  EXPECT_EQ(rto.rttvar(), 0ns);
  EXPECT_EQ(rto.rto(), 1s);
  EXPECT_EQ(rto.backoff_count(), 0u);
  EXPECT_EQ(rto.sample_count(), 0u);
  ASSERT_TRUE(sample(rto, 40ms));  // a first sample again: 40 + 80 = 120 ms, raised to 200
  EXPECT_EQ(rto.srtt(), 40ms);
  EXPECT_EQ(rto.rttvar(), 20ms);
  EXPECT_EQ(rto.rto(), 200ms);
}

}  // namespace
}  // namespace pktd::tcp
