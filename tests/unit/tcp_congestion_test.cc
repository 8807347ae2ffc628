// Congestion control: NewReno (RFC 5681, RFC 6582, RFC 3465) and CUBIC (RFC 9438), driven by
// simulated ACKs on simulated time.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <string_view>

#include "transport/tcp/congestion.h"
#include "transport/tcp/cubic.h"
#include "transport/tcp/newreno.h"

namespace pktd::tcp {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t kMss = 1000;
constexpr double kCubicTolerance = 1e-9;

double seconds_since(time::TimePoint start, time::TimePoint now) {
  return std::chrono::duration<double>(now - start).count();
}

// A sender that keeps its window full and a receiver that ACKs every segment: one round trip
// carries the window's whole segments, their ACKs spread evenly over the RTT.
class Sender {
 public:
  explicit Sender(CongestionControl& cc) : cc_(cc) {}

  [[nodiscard]] time::TimePoint now() const { return now_; }
  void wait(time::Duration d) { now_ += d; }

  std::uint32_t full_segments_in_window() const { return cc_.cwnd() / kMss; }

  void ack(std::uint32_t octets, std::optional<time::Duration> srtt = std::nullopt) {
    cc_.on_ack({.octets = octets, .in_flight = full_segments_in_window() * kMss, .now = now_, .srtt = srtt});
  }

  void round_trip(time::Duration rtt, bool with_srtt = true, std::uint32_t segments_per_ack = 1) {
    const std::uint32_t acks = std::max<std::uint32_t>(full_segments_in_window() / segments_per_ack, 1);
    for (std::uint32_t i = 0; i < acks; ++i) {
      now_ += rtt / acks;
      ack(segments_per_ack * kMss, with_srtt ? std::optional(rtt) : std::nullopt);
    }
  }

  // Slow start one segment at a time until cwnd is exactly `octets` (ssthresh still unbounded).
  void grow_to(std::uint32_t octets) {
    while (cc_.cwnd() < octets) ack(kMss);
    ASSERT_EQ(cc_.cwnd(), octets);
  }

  // A loss of one segment, SACK recovery, and the full ACK once the window's data has arrived.
  void lose_one_segment(std::uint32_t in_flight_at_loss) {
    cc_.on_enter_recovery({.in_flight = in_flight_at_loss, .now = now_, .mode = RecoveryMode::kSack});
    cc_.on_exit_recovery(cc_.ssthresh(), now_);
  }

 private:
  CongestionControl& cc_;
  time::TimePoint now_{};
};

TEST(TcpCongestion, InitialWindowFollowsRfc6928) {
  EXPECT_EQ(initial_window(1460), 14600U);  // 10 segments
  EXPECT_EQ(initial_window(1000), 10000U);
  EXPECT_EQ(initial_window(536), 5360U);
  EXPECT_EQ(initial_window(9000), 18000U);  // 2*MSS exceeds 14600
  EXPECT_EQ(initial_window(1500), 14600U);  // 14600 is below 10*MSS

  NewReno reno(1460);
  EXPECT_EQ(reno.cwnd(), 14600U);
  EXPECT_EQ(reno.ssthresh(), UINT32_MAX);  // RFC 5681 3.1: arbitrarily high
  EXPECT_TRUE(reno.in_slow_start());
  EXPECT_FALSE(reno.in_recovery());
}

TEST(TcpCongestion, FactoryMakesCubicAndNewRenoByName) {
  auto cubic = make_congestion_control("cubic", 1460);
  ASSERT_NE(cubic, nullptr);
  EXPECT_EQ(cubic->name(), "cubic");
  EXPECT_EQ(cubic->cwnd(), 14600U);
  EXPECT_NE(dynamic_cast<Cubic*>(cubic.get()), nullptr);

  auto reno = make_congestion_control("newreno", 536);
  ASSERT_NE(reno, nullptr);
  EXPECT_EQ(reno->name(), "newreno");
  EXPECT_EQ(reno->mss(), 536U);
  EXPECT_EQ(reno->cwnd(), 5360U);

  EXPECT_EQ(make_congestion_control("reno", 1460), nullptr);
  EXPECT_EQ(make_congestion_control("", 1460), nullptr);
  EXPECT_EQ(make_congestion_control("CUBIC", 1460), nullptr);

  EXPECT_EQ(kDefaultCongestionControl, "cubic");
  auto names = congestion_control_names();
  ASSERT_EQ(names.size(), 2U);
  for (std::string_view name : names) EXPECT_EQ(make_congestion_control(name, 1460)->name(), name);
}

// ---- NewReno ----

TEST(TcpNewReno, SlowStartDoublesEachRoundTrip) {
  NewReno reno(kMss);
  Sender sender(reno);
  for (std::uint32_t expected : {20000U, 40000U, 80000U, 160000U}) {
    sender.round_trip(100ms);
    EXPECT_EQ(reno.cwnd(), expected);
  }
}

// RFC 3465 with L = 2*SMSS: an ACK for every other segment still doubles the window.
TEST(TcpNewReno, SlowStartDoublesWithDelayedAcks) {
  NewReno reno(kMss);
  Sender sender(reno);
  for (std::uint32_t expected : {20000U, 40000U, 80000U}) {
    sender.round_trip(100ms, true, 2);
    EXPECT_EQ(reno.cwnd(), expected);
  }
  // No ACK grows the window by more than 2*SMSS, however much it covers.
  sender.ack(10 * kMss);
  EXPECT_EQ(reno.cwnd(), 82000U);
}

// Slow start stops at ssthresh, then congestion avoidance adds one SMSS per round trip.
TEST(TcpNewReno, SwitchesToLinearGrowthAtSsthresh) {
  NewReno reno(kMss);
  Sender sender(reno);
  sender.grow_to(80000);
  reno.on_enter_recovery({.in_flight = 80000, .now = sender.now(), .mode = RecoveryMode::kSack});
  EXPECT_EQ(reno.ssthresh(), 40000U);  // FlightSize / 2
  reno.on_exit_recovery(0, sender.now());
  EXPECT_EQ(reno.cwnd(), 2000U);  // min(ssthresh, max(FlightSize, SMSS) + SMSS)
  EXPECT_TRUE(reno.in_slow_start());

  for (std::uint32_t expected : {4000U, 8000U, 16000U, 32000U}) {
    sender.round_trip(100ms);
    EXPECT_EQ(reno.cwnd(), expected);
  }
  sender.round_trip(100ms);  // reaches ssthresh part way through and stops there
  EXPECT_EQ(reno.cwnd(), 40000U);
  EXPECT_FALSE(reno.in_slow_start());

  for (int rtt = 0; rtt < 10; ++rtt) {
    const std::uint32_t before = reno.cwnd();
    sender.round_trip(100ms);
    EXPECT_EQ(reno.cwnd(), before + kMss) << "round trip " << rtt;
  }
}

// RFC 6582 3.2 by hand, SMSS = 1000 and 10000 octets in flight at the third duplicate ACK.
TEST(TcpNewReno, FastRecoveryWithPartialAndFullAcks) {
  NewReno reno(kMss);
  const time::TimePoint now{};
  reno.on_enter_recovery({.in_flight = 10000, .now = now, .mode = RecoveryMode::kNewReno});
  EXPECT_TRUE(reno.in_recovery());
  EXPECT_EQ(reno.ssthresh(), 5000U);  // max(FlightSize / 2, 2*SMSS)
  EXPECT_EQ(reno.cwnd(), 8000U);      // ssthresh + 3*SMSS

  reno.on_duplicate_ack();
  reno.on_duplicate_ack();
  EXPECT_EQ(reno.cwnd(), 10000U);  // +SMSS per further duplicate ACK

  reno.on_enter_recovery({.in_flight = 10000, .now = now, .mode = RecoveryMode::kNewReno});
  EXPECT_EQ(reno.ssthresh(), 5000U);  // no second reduction within one recovery
  EXPECT_EQ(reno.cwnd(), 10000U);

  reno.on_ack({.octets = 3000, .in_flight = 9000, .now = now, .srtt = {}});
  EXPECT_EQ(reno.cwnd(), 8000U);  // partial ACK: 10000 - 3000 + SMSS
  reno.on_ack({.octets = 500, .in_flight = 6000, .now = now, .srtt = {}});
  EXPECT_EQ(reno.cwnd(), 7500U);  // less than SMSS acknowledged: nothing added back
  reno.on_duplicate_ack();
  EXPECT_EQ(reno.cwnd(), 8500U);
  EXPECT_TRUE(reno.in_recovery());

  reno.on_exit_recovery(2000, now);  // full ACK with 2000 octets still outstanding
  EXPECT_FALSE(reno.in_recovery());
  EXPECT_EQ(reno.cwnd(), 3000U);  // min(5000, max(2000, 1000) + 1000)
  EXPECT_EQ(reno.ssthresh(), 5000U);
  reno.on_duplicate_ack();  // outside recovery a duplicate ACK changes nothing
  EXPECT_EQ(reno.cwnd(), 3000U);
}

TEST(TcpNewReno, FullAckWithMuchOutstandingDeflatesToSsthresh) {
  NewReno reno(kMss);
  reno.on_enter_recovery({.in_flight = 10000, .now = {}, .mode = RecoveryMode::kNewReno});
  reno.on_exit_recovery(6000, {});
  EXPECT_EQ(reno.cwnd(), 5000U);  // min(5000, 6000 + 1000)
  EXPECT_FALSE(reno.in_slow_start());
}

// RFC 6675: with SACK, cwnd = ssthresh and the pipe estimate does the rest.
TEST(TcpNewReno, SackRecoveryKeepsCwndAtSsthresh) {
  NewReno reno(kMss);
  reno.on_enter_recovery({.in_flight = 10000, .now = {}, .mode = RecoveryMode::kSack});
  EXPECT_EQ(reno.cwnd(), 5000U);
  reno.on_duplicate_ack();
  reno.on_ack({.octets = 3000, .in_flight = 9000, .now = {}, .srtt = {}});
  EXPECT_EQ(reno.cwnd(), 5000U);
  reno.on_exit_recovery(4000, {});
  EXPECT_EQ(reno.cwnd(), 5000U);
}

TEST(TcpNewReno, SmallFlightKeepsSsthreshAtTwoSegments) {
  NewReno reno(kMss);
  reno.on_enter_recovery({.in_flight = 3000, .now = {}, .mode = RecoveryMode::kNewReno});
  EXPECT_EQ(reno.ssthresh(), 2000U);
  EXPECT_EQ(reno.cwnd(), 5000U);
}

// RFC 5681 3.1: ssthresh = max(FlightSize / 2, 2*SMSS), cwnd = LW = 1 SMSS; a second timeout for
// the same segment holds ssthresh; slow start after it counts 1*SMSS per ACK (RFC 3465 2.3).
TEST(TcpNewReno, TimeoutFallsToOneSegment) {
  NewReno reno(kMss);
  reno.on_enter_recovery({.in_flight = 10000, .now = {}, .mode = RecoveryMode::kNewReno});
  reno.on_timeout(10000, {});
  EXPECT_FALSE(reno.in_recovery());
  EXPECT_EQ(reno.ssthresh(), 5000U);
  EXPECT_EQ(reno.cwnd(), kMss);

  reno.on_timeout(1000, {});  // the retransmission was lost too
  EXPECT_EQ(reno.ssthresh(), 5000U);
  EXPECT_EQ(reno.cwnd(), kMss);

  reno.on_ack({.octets = 10000, .in_flight = 1000, .now = {}, .srtt = {}});
  EXPECT_EQ(reno.cwnd(), 2000U);  // one stretch ACK, one SMSS
  reno.on_ack({.octets = 1000, .in_flight = 2000, .now = {}, .srtt = {}});
  reno.on_ack({.octets = 1000, .in_flight = 2000, .now = {}, .srtt = {}});
  reno.on_ack({.octets = 1000, .in_flight = 2000, .now = {}, .srtt = {}});
  EXPECT_EQ(reno.cwnd(), 5000U);  // stops at ssthresh
  EXPECT_FALSE(reno.in_slow_start());

  reno.on_timeout(1000, {});  // after progress, a new timeout reduces again
  EXPECT_EQ(reno.ssthresh(), 2000U);
  EXPECT_EQ(reno.cwnd(), kMss);
}

// ---- CUBIC ----

// W_max = 100 segments, cwnd_epoch = 70 (beta_cubic 0.7): K = cbrt(30 / 0.4) = cbrt(75).
TEST(TcpCubic, KIsTheTimeBackToWMax) {
  const double k = Cubic::time_to_reach_w_max(100, 70);
  EXPECT_NEAR(k, 4.217163326508746, kCubicTolerance);
  EXPECT_NEAR(Cubic::kC * k * k * k, 30.0, kCubicTolerance);
  EXPECT_NEAR(Cubic::kAlpha, 9.0 / 17.0, kCubicTolerance);
  EXPECT_EQ(Cubic::time_to_reach_w_max(50, 50), 0.0);
}

// RFC 9438 4.6: ssthresh = flight_size * 0.7, cwnd = ssthresh, W_max = cwnd before the loss.
TEST(TcpCubic, LossReducesByBetaAndRemembersWMax) {
  Cubic cubic(kMss);
  Sender sender(cubic);
  sender.grow_to(100000);
  cubic.on_enter_recovery({.in_flight = 100000, .now = sender.now(), .mode = RecoveryMode::kSack});
  EXPECT_EQ(cubic.ssthresh(), 70000U);
  EXPECT_EQ(cubic.cwnd(), 70000U);
  EXPECT_DOUBLE_EQ(cubic.w_max(), 100.0);
  EXPECT_DOUBLE_EQ(cubic.cwnd_prior(), 100.0);
  EXPECT_FALSE(cubic.epoch_start());

  cubic.on_exit_recovery(70000, sender.now());
  EXPECT_EQ(cubic.cwnd(), 70000U);
  sender.wait(10ms);
  sender.ack(kMss, 100ms);  // the first ACK of congestion avoidance starts the epoch
  ASSERT_TRUE(cubic.epoch_start());
  EXPECT_EQ(*cubic.epoch_start(), sender.now());
  EXPECT_NEAR(cubic.k(), std::cbrt(75.0), kCubicTolerance);
  EXPECT_DOUBLE_EQ(cubic.w_max(), 100.0);
}

TEST(TcpCubic, LossWithoutSackInflatesAndUsesFlightSize) {
  Cubic cubic(kMss);
  Sender sender(cubic);
  sender.grow_to(100000);
  // Only 50000 octets were in flight: the reduction is from what was sent (RFC 9438 4.6).
  cubic.on_enter_recovery({.in_flight = 50000, .now = sender.now(), .mode = RecoveryMode::kNewReno});
  EXPECT_EQ(cubic.ssthresh(), 35000U);
  EXPECT_EQ(cubic.cwnd(), 38000U);  // ssthresh + 3*SMSS, RFC 5681 3.2 step 3
  EXPECT_DOUBLE_EQ(cubic.w_max(), 100.0);
}

// A CUBIC sender after a loss at W_max = 100 segments, in its first round trip of congestion
// avoidance (epoch started).
class CubicAfterLoss : public ::testing::Test {
 protected:
  void SetUp() override {
    sender_.grow_to(100000);
    sender_.lose_one_segment(100000);
    ASSERT_EQ(cubic_.cwnd(), 70000U);
  }
  double cwnd_segments() const { return static_cast<double>(cubic_.cwnd()) / kMss; }
  double t() const { return seconds_since(*cubic_.epoch_start(), sender_.now()); }
  void run_until(double seconds, time::Duration rtt, bool with_srtt = true) {
    while (!cubic_.epoch_start() || t() < seconds) sender_.round_trip(rtt, with_srtt);
  }

  Cubic cubic_{kMss};
  Sender sender_{cubic_};
};

// RFC 9438 4.2: each ACK moves cwnd toward W_cubic(t + RTT), so after a round trip of ACKs the
// window has caught up with the curve: cwnd(t) follows W_cubic(t) through the concave region, the
// plateau at K and into the convex region.
TEST_F(CubicAfterLoss, GrowthFollowsTheCubicCurve) {
  const auto rtt = 200ms;  // long enough that W_est stays below the curve (4.3)
  for (double at : {0.5, 1.0, 2.0, 3.0, 4.0, 4.2171, 5.0, 6.0}) {
    run_until(at, rtt);
    const double expected = cubic_.w_cubic(t());
    EXPECT_NEAR(cwnd_segments(), expected, 0.02 * expected) << "t = " << t();
    EXPECT_GT(expected, cubic_.w_est()) << "t = " << t();
  }
  EXPECT_GT(cwnd_segments(), 100.0);  // past W_max: convex
}

// Without the one-RTT lookahead the window trails the curve by about a round trip; with it the
// window is on the curve.
TEST_F(CubicAfterLoss, LookingOneRoundTripAheadKeepsUpWithTheCurve) {
  CubicAfterLoss::run_until(1.0, 200ms, false);
  const double behind = cubic_.w_cubic(t()) - cwnd_segments();
  EXPECT_GT(behind, 1.5);
  EXPECT_NEAR(cwnd_segments(), cubic_.w_cubic(t() - 0.2), 1.0);
}

// Around t = K the curve is flat: the window lingers near W_max (RFC 9438 4.4 and 4.5).
TEST_F(CubicAfterLoss, PlateausNearWMax) {
  const auto rtt = 200ms;
  run_until(0.0, rtt);
  const double at_start = cwnd_segments();
  run_until(1.0, rtt);
  const double first_second = cwnd_segments() - at_start;
  EXPECT_GT(first_second, 10.0);  // concave: fast far below W_max

  run_until(cubic_.k() - 0.5, rtt);
  const double before_k = cwnd_segments();
  run_until(cubic_.k() + 0.5, rtt);
  const double around_k = cwnd_segments() - before_k;
  EXPECT_LT(around_k, 1.0);
  EXPECT_NEAR(cwnd_segments(), 100.0, 1.0);
}

// RFC 9438 4.7: a loss before the window is back at W_max lowers W_max to cwnd * (1 + 0.7) / 2.
TEST_F(CubicAfterLoss, FastConvergenceLowersWMax) {
  run_until(1.0, 200ms);
  const double cwnd = cwnd_segments();
  ASSERT_LT(cwnd, 100.0);
  const std::uint32_t in_flight = cubic_.cwnd();
  cubic_.on_enter_recovery({.in_flight = in_flight, .now = sender_.now(), .mode = RecoveryMode::kSack});
  EXPECT_NEAR(cubic_.w_max(), cwnd * 0.85, 1e-3);  // cwnd() drops the fraction of an octet
  EXPECT_NEAR(cubic_.ssthresh(), in_flight * 0.7, 1.0);
}

TEST(TcpCubic, WithoutFastConvergenceWMaxIsTheWindowAtLoss) {
  Cubic cubic(kMss, false);
  Sender sender(cubic);
  sender.grow_to(100000);
  sender.lose_one_segment(100000);
  cubic.on_enter_recovery({.in_flight = 70000, .now = sender.now(), .mode = RecoveryMode::kSack});
  EXPECT_DOUBLE_EQ(cubic.w_max(), 70.0);
  EXPECT_EQ(cubic.ssthresh(), 49000U);
}

// RFC 9438 4.3: at a short RTT Reno would grow faster than the cubic curve, so cwnd follows the
// Reno-friendly estimate: alpha_cubic per round trip up to cwnd_prior, then one segment.
TEST(TcpCubic, RenoFriendlyRegionDominatesAtShortRtt) {
  Cubic cubic(kMss);
  Sender sender(cubic);
  sender.grow_to(20000);
  sender.lose_one_segment(20000);
  ASSERT_EQ(cubic.cwnd(), 14000U);
  const auto rtt = 1ms;

  for (int i = 0; i < 10; ++i) sender.round_trip(rtt);
  const double t10 = seconds_since(*cubic.epoch_start(), sender.now());
  EXPECT_NEAR(cubic.w_est(), 14.0 + 10 * Cubic::kAlpha, 0.3);
  EXPECT_GT(cubic.w_est(), cubic.w_cubic(t10));
  EXPECT_NEAR(static_cast<double>(cubic.cwnd()) / kMss, cubic.w_est(), 1e-3);

  const double at_10 = cubic.w_est();
  for (int i = 0; i < 90; ++i) sender.round_trip(rtt);
  const double t100 = seconds_since(*cubic.epoch_start(), sender.now());
  const double cwnd = static_cast<double>(cubic.cwnd()) / kMss;
  EXPECT_NEAR(cwnd, cubic.w_est(), 1e-3);
  EXPECT_GT(cwnd, cubic.w_cubic(t100) + 50.0);
  // Past cwnd_prior (20) alpha_cubic is 1: about one segment per round trip, as Reno.
  EXPECT_NEAR(cwnd - at_10, 90.0 - (20.0 - at_10) * (1.0 / Cubic::kAlpha - 1.0), 3.0);
}

// RFC 9438 4.8: cwnd = 1 SMSS, ssthresh by beta_cubic; the stage after slow start starts with
// K = 0 and W_max = cwnd_epoch, so the window grows convex from where it is.
TEST(TcpCubic, TimeoutRestartsFromOneSegmentWithKZero) {
  Cubic cubic(kMss);
  Sender sender(cubic);
  sender.grow_to(100000);
  sender.lose_one_segment(100000);  // W_max = 100
  cubic.on_timeout(70000, sender.now());
  EXPECT_EQ(cubic.cwnd(), kMss);
  EXPECT_EQ(cubic.ssthresh(), 49000U);
  EXPECT_FALSE(cubic.in_recovery());
  EXPECT_TRUE(cubic.in_slow_start());

  while (cubic.in_slow_start()) sender.ack(kMss);
  EXPECT_EQ(cubic.cwnd(), 49000U);  // slow start stops at ssthresh
  EXPECT_FALSE(cubic.epoch_start());
  sender.ack(kMss, 300ms);
  ASSERT_TRUE(cubic.epoch_start());
  EXPECT_EQ(cubic.k(), 0.0);
  EXPECT_DOUBLE_EQ(cubic.w_max(), 49.0);

  const auto rtt = 300ms;  // W_est stays below the curve
  while (seconds_since(*cubic.epoch_start(), sender.now()) < 3.0) sender.round_trip(rtt);
  const double t = seconds_since(*cubic.epoch_start(), sender.now());
  const double expected = 49.0 + Cubic::kC * t * t * t;
  EXPECT_NEAR(static_cast<double>(cubic.cwnd()) / kMss, expected, 0.03 * expected);
}

// RFC 9438 5.8: no growth while the application leaves the window unused, and that time does not
// count toward t.
TEST_F(CubicAfterLoss, ApplicationLimitedTimeIsNotCounted) {
  run_until(0.5, 200ms);
  const std::uint32_t cwnd = cubic_.cwnd();
  const time::TimePoint epoch = *cubic_.epoch_start();
  for (int i = 0; i < 10; ++i) {
    sender_.wait(100ms);
    cubic_.on_ack({.octets = kMss, .in_flight = 5 * kMss, .now = sender_.now(), .srtt = 200ms});
  }
  EXPECT_EQ(cubic_.cwnd(), cwnd);
  EXPECT_EQ(*cubic_.epoch_start(), epoch + 1s);
}

}  // namespace
}  // namespace pktd::tcp
