// RACK (RFC 8985 6, transport/tcp/rack.h): which segments it deems lost and when, from sends and
// ACKs given by hand with a fake clock. Segments are 1000 octets, S1 = [1000, 2000) and so on
// from a base sequence number; every scenario runs at several bases (across the 2^32 wrap too).
#include <gtest/gtest.h>

#include <vector>

#include "transport/tcp/rack.h"

namespace pktd::tcp {
namespace {

using namespace std::chrono_literals;

class RackScenario : public ::testing::TestWithParam<std::uint32_t> {
 protected:
  [[nodiscard]] Seq s(std::uint32_t offset) const { return Seq(GetParam() + offset); }
  [[nodiscard]] Seq start_of(int n) const { return s(1000 * static_cast<std::uint32_t>(n)); }
  [[nodiscard]] wire::TcpSackBlock block(int first, int last) const {
    return {start_of(first).value(), start_of(last + 1).value()};
  }
  // Sends segment n (again, if it was sent before) at t0 + at.
  void send(int n, time::Duration at) { rack.on_sent(start_of(n), start_of(n + 1), t0 + at); }
  // An ACK at t0 + at: cumulative up to segment `acked_through` (0: nothing), these newly SACKed.
  void ack(time::Duration at, int acked_through, std::vector<wire::TcpSackBlock> sacked = {},
           std::optional<time::Duration> echoed = std::nullopt, bool dsack = false) {
    RackAck a{.now = t0 + at,
              .snd_una = start_of(acked_through + 1),
              .snd_nxt = s(100'000),
              .echoed = echoed ? std::optional(t0 + *echoed) : std::nullopt,
              .dsack = dsack};
    rack.on_ack(a, sacked);
  }
  RackLossCheck detect(time::Duration at, bool in_recovery = false) {
    return rack.detect_loss(t0 + at, in_recovery, std::nullopt);
  }
  [[nodiscard]] std::optional<wire::TcpSackBlock> lost_segment(int n) const {
    return wire::TcpSackBlock{start_of(n).value(), start_of(n + 1).value()};
  }

  time::TimePoint t0{std::chrono::seconds(100)};
  Rack rack;
};

INSTANTIATE_TEST_SUITE_P(Bases, RackScenario,
                         ::testing::Values(0U, 0x7FFFF000U, 0xFFFFF000U, 123456789U));

TEST_P(RackScenario, ASegmentSentBeforeADeliveredOneIsLostAfterRttAndReorderingWindow) {
  // S1..S4 sent 1 ms apart; S1 is lost, S2 is SACKed 10 ms after it was sent.
  for (int n = 1; n <= 4; ++n) send(n, (n - 1) * 1ms);
  ack(11ms, 0, {block(2, 2)});
  EXPECT_EQ(rack.xmit_ts(), t0 + 1ms);
  EXPECT_EQ(rack.rtt(), 10ms);
  EXPECT_EQ(rack.min_rtt(), 10ms);
  // Step 4: one SACKed segment, no reordering, no recovery: reo_wnd = min_RTT / 4 = 2.5 ms.
  EXPECT_EQ(rack.reordering_window(false, std::nullopt), 2500us);
  // Step 5: S1 expires at 0 + 10 ms + 2.5 ms; until then only the timer is armed.
  RackLossCheck c = detect(11ms);
  EXPECT_EQ(c.newly_lost, 0U);
  EXPECT_EQ(c.timer, t0 + 12500us);
  EXPECT_FALSE(rack.next_lost());
  c = detect(12500us);
  EXPECT_EQ(c.newly_lost, 1U);
  EXPECT_FALSE(c.timer);  // S3 and S4 were sent after S2: nothing to wait for
  EXPECT_EQ(rack.next_lost(), lost_segment(1));
  EXPECT_EQ(rack.stats().marked_lost, 1U);
}

TEST_P(RackScenario, ACapSrttAndTheDupThreshRuleShapeTheWindow) {
  for (int n = 1; n <= 6; ++n) send(n, (n - 1) * 1ms);
  ack(11ms, 0, {block(2, 2)});
  EXPECT_EQ(rack.reordering_window(false, 1ms), 1ms);  // never above SRTT
  EXPECT_EQ(rack.reordering_window(true, std::nullopt), 0ms);  // in recovery, no reordering seen
  // Three segments SACKed (DupThresh): no window, S1 is lost at once.
  ack(13ms, 0, {block(3, 4)});
  EXPECT_EQ(rack.segs_sacked(), 3U);
  EXPECT_EQ(rack.reordering_window(false, std::nullopt), 0ms);
  EXPECT_EQ(detect(13ms).newly_lost, 1U);
  EXPECT_EQ(rack.next_lost(), lost_segment(1));
}

TEST_P(RackScenario, ALostRetransmissionIsFoundOnceSomethingSentAfterItIsDelivered) {
  for (int n = 1; n <= 4; ++n) send(n, 0ms);
  ack(10ms, 0, {block(2, 4)});
  EXPECT_EQ(detect(10ms, true).newly_lost, 1U);
  // S1 goes again at 10 ms (and is lost again); S5, new data, goes after it and is SACKed.
  send(1, 10ms);
  EXPECT_FALSE(rack.next_lost());
  send(5, 11ms);
  ack(16ms, 0, {block(5, 5)});
  EXPECT_EQ(rack.xmit_ts(), t0 + 11ms);
  EXPECT_EQ(rack.rtt(), 5ms);
  // In recovery without reordering reo_wnd is 0: S1's retransmission is lost once RACK.rtt has
  // passed since it went, at 15 ms; at 16 ms it is.
  RackLossCheck c = detect(16ms, true);
  EXPECT_EQ(c.newly_lost, 1U);
  EXPECT_EQ(rack.next_lost(), lost_segment(1));
  EXPECT_EQ(rack.lost_retransmitted_octets(), 1000U);
}

TEST_P(RackScenario, InRecoveryEverythingSentBeforeADeliveredSegmentIsLost) {
  for (int n = 1; n <= 4; ++n) send(n, 0ms);
  ack(10ms, 0, {block(2, 4)});
  EXPECT_EQ(detect(10ms, true).newly_lost, 1U);
  send(1, 10ms);
  send(5, 10ms);
  send(6, 12ms);
  ack(22ms, 0, {block(6, 6)});  // S6, sent after S1's retransmission, is delivered
  // reo_wnd is 0 (recovery, no reordering): a segment sent before S6 expires at its send time
  // plus RACK.rtt, which is S6's: 2 ms before now.
  RackLossCheck c = detect(22ms, true);
  EXPECT_EQ(c.newly_lost, 2U) << "S1's retransmission and S5, both sent at 10 ms";
  EXPECT_FALSE(c.timer);
}

TEST_P(RackScenario, RetransmissionAckedFasterThanMinRttTellsNothing) {
  // S1 sent at 0, its ACK is late; it is resent at 30 ms and the ACK for the original comes at
  // 31 ms: 1 ms after the retransmission, less than min_RTT, so not this transmission's.
  send(1, 0ms);
  send(2, 0ms);
  ack(10ms, 0, {block(2, 2)});  // min_RTT = 10 ms
  send(1, 30ms);
  ack(31ms, 1);
  EXPECT_EQ(rack.xmit_ts(), t0) << "RACK.xmit_ts stays at S2's send time";
  EXPECT_EQ(rack.rtt(), 10ms);
}

TEST_P(RackScenario, TheTimestampEchoRulesOutAnEarlierTransmission) {
  send(1, 0ms);
  send(2, 0ms);
  ack(10ms, 0, {block(2, 2)});
  send(1, 20ms);
  // Acknowledged 40 ms later (longer than min_RTT), but TSecr names the original's send time.
  ack(60ms, 1, {}, 0ms);
  EXPECT_EQ(rack.xmit_ts(), t0);
  // The same ACK echoing the retransmission's time is a valid sample.
  send(3, 70ms);
  send(3, 80ms);
  ack(95ms, 3, {}, 80ms);
  EXPECT_EQ(rack.xmit_ts(), t0 + 80ms);
  EXPECT_EQ(rack.rtt(), 15ms);
}

TEST_P(RackScenario, AnOriginalDeliveredBelowTheHighestDeliveredIsReordering) {
  for (int n = 1; n <= 3; ++n) send(n, (n - 1) * 1ms);
  ack(12ms, 0, {block(2, 2)});
  EXPECT_FALSE(rack.reordering_seen());
  ack(13ms, 2);  // S1 arrives late, never resent: the network reordered it
  EXPECT_TRUE(rack.reordering_seen());
  EXPECT_EQ(rack.stats().reordering_detected, 1U);
  // With reordering seen the window stays even in recovery.
  EXPECT_GT(rack.reordering_window(true, std::nullopt), 0ms);
  EXPECT_EQ(rack.segs_sacked(), 0U);
  EXPECT_EQ(rack.segment_count(), 1U);
}

TEST_P(RackScenario, ARetransmissionDeliveredBelowTheHighestIsNotReordering) {
  for (int n = 1; n <= 3; ++n) send(n, (n - 1) * 1ms);
  ack(12ms, 0, {block(2, 3)});
  send(1, 13ms);
  ack(23ms, 3);
  EXPECT_FALSE(rack.reordering_seen());
}

TEST_P(RackScenario, DsackGrowsTheWindowPerRoundAndSixteenRecoveriesResetIt) {
  send(1, 0ms);
  send(2, 0ms);
  ack(10ms, 0, {block(2, 2)});
  EXPECT_EQ(rack.reordering_window(false, std::nullopt), 2500us);
  ack(11ms, 0, {}, std::nullopt, true);
  EXPECT_EQ(rack.reo_wnd_mult(), 2U);
  EXPECT_EQ(rack.reordering_window(false, std::nullopt), 5ms);
  ack(12ms, 0, {}, std::nullopt, true);  // the same round: no growth
  EXPECT_EQ(rack.reo_wnd_mult(), 2U);
  for (int i = 0; i < 15; ++i) rack.on_recovery_exit();
  EXPECT_EQ(rack.reo_wnd_mult(), 2U);
  rack.on_recovery_exit();
  EXPECT_EQ(rack.reo_wnd_mult(), 1U);
}

TEST_P(RackScenario, PartialSacksAndRetransmissionsSplitRecords) {
  send(1, 0ms);
  send(2, 0ms);
  // Half of S1 SACKed: the record splits, the SACKed half is delivered.
  const wire::TcpSackBlock half{s(1500).value(), start_of(2).value()};
  ack(10ms, 0, {half});
  EXPECT_EQ(rack.segment_count(), 3U);
  EXPECT_EQ(rack.segs_sacked(), 1U);
  // A retransmission spanning [1200, 2500): its pieces take the new time, the SACKed one not.
  rack.on_sent(s(1200), s(2500), t0 + 20ms);
  EXPECT_EQ(rack.segment_count(), 5U);  // [1000,1200) [1200,1500) [1500,2000) [2000,2500) [2500,3000)
  ack(30ms, 0, {wire::TcpSackBlock{s(2500).value(), start_of(3).value()}});
  // [2500, 3000) was sent at 0 ms; [1000, 1200) too, and it is older than the delivered one.
  const RackLossCheck c = detect(30ms);
  EXPECT_EQ(c.newly_lost, 0U) << "sent at the same time, lower: waits its window";
  EXPECT_EQ(c.timer, t0 + 32500us);  // RACK.rtt 30 ms, reo_wnd min_RTT (10 ms) / 4
  EXPECT_EQ(detect(32500us).newly_lost, 1U);
  EXPECT_EQ(rack.next_lost(), (wire::TcpSackBlock{s(1000).value(), s(1200).value()}));
}

TEST_P(RackScenario, CumulativeAcksForgetRecordsAndSackedCounts) {
  for (int n = 1; n <= 5; ++n) send(n, 0ms);
  ack(10ms, 0, {block(3, 4)});
  EXPECT_EQ(rack.segs_sacked(), 2U);
  ack(11ms, 4);
  EXPECT_EQ(rack.segs_sacked(), 0U);
  EXPECT_EQ(rack.segment_count(), 1U);
  ack(12ms, 5);
  EXPECT_EQ(rack.segment_count(), 0U);
  EXPECT_FALSE(detect(12ms).timer);
}

TEST_P(RackScenario, ForgottenSacksAreOutstandingAgain) {
  for (int n = 1; n <= 3; ++n) send(n, 0ms);
  ack(10ms, 0, {block(2, 3)});
  EXPECT_EQ(rack.segs_sacked(), 2U);
  rack.forget_sacks(t0 + 10ms);
  EXPECT_EQ(rack.segs_sacked(), 0U);
  EXPECT_EQ(rack.segment_count(), 3U);
}

TEST_P(RackScenario, LostRetransmittedOctetsAreCounted) {
  for (int n = 1; n <= 4; ++n) send(n, 0ms);
  ack(10ms, 0, {block(2, 4)});
  detect(10ms, true);
  EXPECT_EQ(rack.lost_retransmitted_octets(), 0U);  // an original
  send(1, 10ms);
  send(5, 10ms);
  ack(20ms, 0, {block(5, 5)});
  EXPECT_EQ(detect(20ms, true).newly_lost, 1U);
  EXPECT_EQ(rack.lost_retransmitted_octets(), 1000U);
  send(1, 20ms);
  EXPECT_EQ(rack.lost_retransmitted_octets(), 0U);
}

TEST_P(RackScenario, InFlightOctetsLeaveOutTheDeliveredAndTheLost) {
  for (int n = 1; n <= 4; ++n) send(n, 0ms);
  EXPECT_EQ(rack.in_flight_octets(), 4000U);
  ack(10ms, 0, {block(2, 3)});
  EXPECT_EQ(rack.in_flight_octets(), 2000U);  // S1 and S4
  // Half of S4 SACKed: the split keeps the count.
  ack(11ms, 0, {wire::TcpSackBlock{s(4500).value(), start_of(5).value()}});
  EXPECT_EQ(rack.in_flight_octets(), 1500U);
  detect(11ms, true);
  EXPECT_EQ(rack.in_flight_octets(), 0U) << "S1 and S4's first half, sent before its second, are lost";
  send(1, 12ms);  // resent: in flight once, however SetPipe counts it
  EXPECT_EQ(rack.in_flight_octets(), 1000U);
  ack(20ms, 4);
  EXPECT_EQ(rack.in_flight_octets(), 0U);
}

TEST(Rack, PastTheRecordLimitNothingIsSplit) {
  Rack rack(RackConfig{.max_segments = 2});
  const time::TimePoint t0{std::chrono::seconds(1)};
  rack.on_sent(Seq(1000), Seq(2000), t0);
  rack.on_sent(Seq(2000), Seq(3000), t0);
  rack.on_sent(Seq(3000), Seq(4000), t0 + 1ms);  // the newest record grows instead
  EXPECT_EQ(rack.segment_count(), 2U);
  const std::vector<wire::TcpSackBlock> half{{1500, 2000}};
  rack.on_ack(RackAck{.now = t0 + 10ms,
                      .snd_una = Seq(1000),
                      .snd_nxt = Seq(4000),
                      .echoed = std::nullopt,
                      .dsack = false},
              half);
  EXPECT_EQ(rack.segment_count(), 2U);
  EXPECT_EQ(rack.segs_sacked(), 0U);  // partly SACKed records stay undelivered
  EXPECT_GT(rack.stats().splits_refused, 0U);
}

}  // namespace
}  // namespace pktd::tcp
