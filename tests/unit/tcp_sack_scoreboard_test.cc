// The SACK scoreboard and RFC 6675 loss recovery: Update, IsLost, SetPipe, NextSeg, D-SACK.
//
// The scenarios use SMSS = 1000 and ten segments S1..S10 covering [1000, 11000) relative to a base
// sequence number; every scenario runs at several bases, so across the 2^32 wrap and across the
// 2^31 sign boundary too. All expected values are worked out by hand in the comments.
#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

#include "transport/tcp/sack_scoreboard.h"

namespace pktd::tcp {
namespace {

constexpr std::uint32_t kSmss = 1000;

SackScoreboardConfig config_with(std::uint32_t smss = kSmss, bool rule3 = true,
                                 std::size_t max_ranges = 1024) {
  return SackScoreboardConfig{
      .smss = smss, .retransmit_unlost_holes = rule3, .max_ranges = max_ranges};
}

class SackScenario : public ::testing::TestWithParam<std::uint32_t> {
 protected:
  // Sequence number `offset` octets from the base.
  [[nodiscard]] Seq s(std::uint32_t offset) const { return Seq(GetParam() + offset); }
  [[nodiscard]] wire::TcpSackBlock b(std::uint32_t left, std::uint32_t right) const {
    return {GetParam() + left, GetParam() + right};
  }
  [[nodiscard]] SackSegment seg(std::uint32_t start, std::uint32_t end, SackSendRule rule) const {
    return SackSegment{s(start), s(end), rule};
  }
  [[nodiscard]] std::vector<wire::TcpSackBlock> blocks(
      std::initializer_list<std::pair<std::uint32_t, std::uint32_t>> list) const {
    std::vector<wire::TcpSackBlock> out;
    for (const auto& [left, right] : list) out.push_back(b(left, right));
    return out;
  }
  // An ACK with cumulative acknowledgment `ack` and these SACK blocks, first block first.
  SackUpdate ack(std::uint32_t ack_offset,
                 std::initializer_list<std::pair<std::uint32_t, std::uint32_t>> list = {},
                 std::uint32_t high = 11000) {
    const std::vector<wire::TcpSackBlock> bl = blocks(list);
    return sb.update(s(ack_offset), bl, s(high));
  }

  SackScoreboard sb{config_with(), Seq(GetParam() + 1000)};
};

INSTANTIATE_TEST_SUITE_P(Bases, SackScenario,
                         ::testing::Values(0U, 0xFFFFF000U, 0x7FFFF000U, 0xFFFFFFFFU - 5000U));

TEST_P(SackScenario, SingleLossWorkedThroughRecovery) {
  // S1 [1000, 2000) is lost; S2, S3, S4 arrive and are SACKed one by one.
  SackUpdate u = ack(1000, {{2000, 3000}});
  EXPECT_EQ(u.newly_sacked_octets, 1000u);
  EXPECT_TRUE(u.duplicate_ack);
  EXPECT_FALSE(u.enter_recovery);
  EXPECT_EQ(sb.dup_acks(), 1u);
  EXPECT_FALSE(sb.is_lost(s(1000)));  // 1 range, 1000 octets above
  // SetPipe: [1000, 2000) not lost (1000) + [3000, 11000) (8000) = 9000.
  EXPECT_EQ(sb.pipe(s(11000)), 9000u);

  u = ack(1000, {{2000, 4000}});
  EXPECT_EQ(u.newly_sacked_octets, 1000u);
  EXPECT_FALSE(u.enter_recovery);
  EXPECT_FALSE(sb.is_lost(s(1000)));  // 2000 octets: not *more than* (3 - 1) * 1000
  EXPECT_EQ(sb.pipe(s(11000)), 8000u);

  u = ack(1000, {{2000, 5000}});
  EXPECT_EQ(sb.dup_acks(), 3u);
  EXPECT_TRUE(u.enter_recovery);  // RFC 6675 5 (1): DupAcks >= DupThresh
  EXPECT_TRUE(sb.is_lost(s(1000)));
  EXPECT_EQ(sb.highest_sacked(), s(5000));
  // S1 is lost now: it no longer counts. [5000, 11000) = 6000.
  EXPECT_EQ(sb.pipe(s(11000)), 6000u);

  // (4.1) RecoveryPoint = HighData; (4.3) retransmit S1, HighRxt = RescueRxt = its end.
  EXPECT_EQ(sb.enter_recovery(s(11000)), seg(1000, 2000, SackSendRule::kLost));
  EXPECT_TRUE(sb.in_recovery());
  EXPECT_EQ(sb.recovery_point(), s(11000));
  EXPECT_EQ(sb.high_rxt(), s(2000));
  EXPECT_EQ(sb.rescue_rxt(), s(2000));
  // The retransmission is in flight: 6000 + 1000.
  EXPECT_EQ(sb.pipe(s(11000)), 7000u);

  // Nothing else is lost, nothing is below the highest SACK but S1, no rescue yet (HighACK has
  // not passed RescueRxt): without new data there is nothing to send.
  EXPECT_EQ(sb.next_seg(s(11000), 0), std::nullopt);
  // Rule (2): new data, up to SMSS or the allowance.
  EXPECT_EQ(sb.next_seg(s(11000), 5000), seg(11000, 12000, SackSendRule::kNewData));
  EXPECT_EQ(sb.next_seg(s(11000), 300), seg(11000, 11300, SackSendRule::kNewData));
  sb.note_sent(seg(11000, 12000, SackSendRule::kNewData));
  EXPECT_EQ(sb.high_rxt(), s(2000));  // new data does not move HighRxt
  EXPECT_EQ(sb.pipe(s(12000)), 8000u);

  // S5 arrives: a further duplicate ACK in recovery, which does not start another one and which
  // DupAcks does not count ("and the TCP is not currently in loss recovery").
  u = ack(1000, {{2000, 6000}}, 12000);
  EXPECT_TRUE(u.duplicate_ack);
  EXPECT_FALSE(u.enter_recovery);
  EXPECT_EQ(sb.dup_acks(), 3u);
  EXPECT_EQ(sb.pipe(s(12000)), 7000u);  // [6000, 12000) + the retransmitted S1

  // The retransmitted S1 arrives: a partial ACK up to 6000.
  u = ack(6000, {}, 12000);
  EXPECT_EQ(u.acked_octets, 5000u);
  EXPECT_EQ(u.sacked_then_acked, 4000u);
  EXPECT_FALSE(u.duplicate_ack);
  EXPECT_FALSE(u.recovery_complete);  // RecoveryPoint 11000 not reached
  EXPECT_EQ(sb.dup_acks(), 0u);
  EXPECT_EQ(sb.sacked_octets(), 0u);
  EXPECT_EQ(sb.high_rxt(), s(6000));  // never below SND.UNA
  EXPECT_EQ(sb.pipe(s(12000)), 6000u);

  // Rule (4): HighACK (5999) > RescueRxt (1999): one rescue of the highest unSACKed octets.
  EXPECT_EQ(sb.next_seg(s(12000), 0), seg(11000, 12000, SackSendRule::kRescue));
  sb.note_sent(seg(11000, 12000, SackSendRule::kRescue));
  EXPECT_EQ(sb.rescue_rxt(), s(11000));  // RescueRxt = RecoveryPoint
  EXPECT_EQ(sb.high_rxt(), s(6000));     // "HighRxt MUST NOT be updated"
  EXPECT_EQ(sb.next_seg(s(12000), 0), std::nullopt);  // one per recovery
  EXPECT_EQ(sb.stats().rescue_retransmissions, 1u);

  u = ack(11000, {}, 12000);
  EXPECT_TRUE(u.recovery_complete);
  EXPECT_FALSE(sb.in_recovery());
  u = ack(12000, {}, 12000);
  EXPECT_FALSE(u.recovery_complete);
  EXPECT_EQ(sb.pipe(s(12000)), 0u);
  EXPECT_EQ(sb.stats().recoveries, 1u);
  EXPECT_EQ(sb.stats().retransmitted_octets, 2000u);  // S1 and the rescue
}

TEST_P(SackScenario, TwoLossesRuleThreeThenRuleOne) {
  // S1 [1000, 2000) and S3 [3000, 4000) are lost.
  ack(1000, {{2000, 3000}});
  SackUpdate u = ack(1000, {{4000, 5000}, {2000, 3000}});
  EXPECT_FALSE(u.enter_recovery);
  EXPECT_FALSE(sb.is_lost(s(1000)));  // 2 ranges, 2000 octets
  u = ack(1000, {{4000, 6000}, {2000, 3000}});
  EXPECT_TRUE(u.enter_recovery);
  EXPECT_TRUE(sb.is_lost(s(1000)));   // 3000 octets above
  EXPECT_FALSE(sb.is_lost(s(3000)));  // 1 range, 2000 octets above
  EXPECT_EQ(sb.enter_recovery(s(11000)), seg(1000, 2000, SackSendRule::kLost));
  // Holes from the top: [6000, 11000) 5000, not lost; [3000, 4000) not lost 1000;
  // [1000, 2000) lost, retransmitted 1000. Pipe 7000.
  EXPECT_EQ(sb.pipe(s(11000)), 7000u);

  // S3 is below the highest SACK but not lost: new data comes first (rule 2), then rule 3.
  EXPECT_EQ(sb.next_seg(s(11000), 1000), seg(11000, 12000, SackSendRule::kNewData));
  EXPECT_EQ(sb.next_seg(s(11000), 0), seg(3000, 4000, SackSendRule::kUnsacked));
  SackScoreboard without_rule3(config_with(kSmss, false), s(1000));
  without_rule3.update(s(1000), blocks({{4000, 6000}, {2000, 3000}}), s(11000));
  (void)without_rule3.enter_recovery(s(11000));
  EXPECT_EQ(without_rule3.next_seg(s(11000), 0), std::nullopt);

  // Sent by rule 3, S3 counts twice (original and retransmission may both be in flight):
  // 5000 + (1000 + 1000) + 1000 = 8000.
  {
    SackScoreboard copy = sb;
    copy.note_sent(seg(3000, 4000, SackSendRule::kUnsacked));
    EXPECT_EQ(copy.high_rxt(), s(4000));
    EXPECT_EQ(copy.pipe(s(11000)), 8000u);
  }

  // S6 arrives: now 3000 octets lie above S3, which is lost, and rule 1 beats new data.
  ack(1000, {{4000, 7000}, {2000, 3000}});
  EXPECT_TRUE(sb.is_lost(s(3000)));
  EXPECT_EQ(sb.next_seg(s(11000), 1000), seg(3000, 4000, SackSendRule::kLost));
  sb.note_sent(seg(3000, 4000, SackSendRule::kLost));
  EXPECT_EQ(sb.high_rxt(), s(4000));
  // [7000, 11000) 4000; [3000, 4000) lost, retransmitted 1000; [1000, 2000) the same 1000.
  EXPECT_EQ(sb.pipe(s(11000)), 6000u);
  // Nothing left above HighRxt below the highest SACK, no rescue (HighACK 999 <= RescueRxt).
  EXPECT_EQ(sb.next_seg(s(11000), 0), std::nullopt);

  // S1's retransmission arrives: ACK 3000 (S2 was SACKed) with S7 newly SACKed.
  u = ack(3000, {{4000, 8000}});
  EXPECT_EQ(u.acked_octets, 2000u);
  EXPECT_EQ(u.sacked_then_acked, 1000u);
  EXPECT_EQ(u.newly_sacked_octets, 1000u);
  EXPECT_TRUE(u.duplicate_ack);  // "regardless of its status as a cumulative acknowledgment"
  EXPECT_EQ(sb.dup_acks(), 0u);  // reset by the cumulative ACK, not counted in recovery
  // S3's retransmission arrives.
  u = ack(8000);
  EXPECT_EQ(u.acked_octets, 5000u);
  EXPECT_EQ(u.sacked_then_acked, 4000u);
  EXPECT_FALSE(u.recovery_complete);
  u = ack(11000);
  EXPECT_TRUE(u.recovery_complete);
  EXPECT_EQ(sb.stats().retransmitted_octets, 2000u);
}

TEST_P(SackScenario, LargeHoleIsRetransmittedInSmssPieces) {
  // [1000, 3500) is missing; [3500, 7000) SACKed in one go (ACK losses hid the others).
  SackUpdate u = ack(1000, {{3500, 7000}}, 7000);
  EXPECT_EQ(sb.dup_acks(), 1u);
  EXPECT_TRUE(u.enter_recovery);  // (2): IsLost(HighACK + 1), 3500 octets > 2000
  EXPECT_EQ(sb.enter_recovery(s(7000)), seg(1000, 2000, SackSendRule::kLost));
  EXPECT_EQ(sb.next_seg(s(7000), 0), seg(2000, 3000, SackSendRule::kLost));
  sb.note_sent(seg(2000, 3000, SackSendRule::kLost));
  // The last piece stops where the SACKed data starts.
  EXPECT_EQ(sb.next_seg(s(7000), 0), seg(3000, 3500, SackSendRule::kLost));
  sb.note_sent(seg(3000, 3500, SackSendRule::kLost));
  EXPECT_EQ(sb.next_seg(s(7000), 0), std::nullopt);
  EXPECT_EQ(sb.high_rxt(), s(3500));
  // Only the retransmissions are in flight: 2500.
  EXPECT_EQ(sb.pipe(s(7000)), 2500u);
}

TEST_P(SackScenario, IsLostByCountOfRanges) {
  // Three small discontiguous SACKed ranges: 300 octets in all, but DupThresh ranges.
  ack(1000, {{2000, 2100}});
  ack(1000, {{2200, 2300}, {2000, 2100}});
  EXPECT_FALSE(sb.is_lost(s(1000)));
  const SackUpdate u = ack(1000, {{2400, 2500}, {2200, 2300}, {2000, 2100}});
  EXPECT_TRUE(u.enter_recovery);
  EXPECT_TRUE(sb.is_lost(s(1000)));
  EXPECT_TRUE(sb.is_lost(s(1999)));
  EXPECT_FALSE(sb.is_lost(s(2100)));  // 2 ranges above
  EXPECT_FALSE(sb.is_lost(s(2399)));  // 1 range above
  EXPECT_FALSE(sb.is_lost(s(2500)));  // nothing above
  EXPECT_FALSE(sb.is_lost(s(2050)));  // SACKed: delivered, not lost
  EXPECT_FALSE(sb.is_lost(s(999)));   // below SND.UNA
  EXPECT_EQ(sb.sacked_octets(), 300u);
  EXPECT_EQ(sb.range_count(), 3u);
}

TEST_P(SackScenario, IsLostByOctets) {
  ack(1000, {{2000, 4000}});
  EXPECT_FALSE(sb.is_lost(s(1000)));  // exactly (DupThresh - 1) * SMSS: not more than
  ack(1000, {{2000, 4001}});  // 2001 octets > 2000
  EXPECT_TRUE(sb.is_lost(s(1000)));
  EXPECT_TRUE(sb.is_lost(s(1999)));
  sb.set_smss(1001);  // 2001 <= 2002
  EXPECT_FALSE(sb.is_lost(s(1000)));
  sb.set_smss(536);  // 2001 > 1072, and the range alone shows it
  EXPECT_TRUE(sb.is_lost(s(1000)));
}

TEST_P(SackScenario, OneAckWithThreeBlocksEntersRecoveryAtOnce) {
  // Earlier ACKs were lost: one ACK shows three segments above S1. RFC 6675 5 (2).
  const SackUpdate u = ack(1000, {{6000, 7000}, {4000, 5000}, {2000, 3000}});
  EXPECT_EQ(sb.dup_acks(), 1u);
  EXPECT_TRUE(u.enter_recovery);
}

TEST_P(SackScenario, BlocksMergeWhenTheyOverlapOrTouch) {
  ack(1000, {{3000, 4000}});
  ack(1000, {{5000, 6000}});
  EXPECT_EQ(sb.ranges(), blocks({{3000, 4000}, {5000, 6000}}));
  SackUpdate u = ack(1000, {{4000, 5000}});  // touches both: one range
  EXPECT_EQ(u.newly_sacked_octets, 1000u);
  EXPECT_EQ(sb.ranges(), blocks({{3000, 6000}}));
  u = ack(1000, {{2500, 3500}});  // overlaps the left end
  EXPECT_EQ(u.newly_sacked_octets, 500u);
  u = ack(1000, {{5500, 6500}});  // overlaps the right end
  EXPECT_EQ(u.newly_sacked_octets, 500u);
  EXPECT_EQ(sb.ranges(), blocks({{2500, 6500}}));
  ack(1000, {{7000, 8000}});
  ack(1000, {{9000, 9500}});
  EXPECT_EQ(sb.range_count(), 3u);
  // Covers all three and the gaps: 8000 - (4000 + 1000 + 500) = 2500 new octets.
  u = ack(1000, {{2000, 10000}});
  EXPECT_EQ(u.newly_sacked_octets, 2500u);
  EXPECT_EQ(sb.ranges(), blocks({{2000, 10000}}));
  EXPECT_EQ(sb.sacked_octets(), 8000u);
  // Nothing new: not a duplicate ACK in RFC 6675's sense.
  u = ack(1000, {{2000, 10000}});
  EXPECT_EQ(u.newly_sacked_octets, 0u);
  EXPECT_FALSE(u.duplicate_ack);
  EXPECT_FALSE(u.dsack.has_value());
  // Several blocks in one ACK, in any order.
  SackScoreboard other(config_with(), s(1000));
  const auto bl = blocks({{8000, 9000}, {2000, 3000}, {3000, 4000}, {7000, 8000}});
  u = other.update(s(1000), bl, s(11000));
  EXPECT_EQ(u.newly_sacked_octets, 4000u);
  EXPECT_EQ(other.ranges(), blocks({{2000, 4000}, {7000, 9000}}));
}

TEST_P(SackScenario, NewlySackedRangesAreReportedGapByGap) {
  // What RACK (rack.h) is told an ACK delivered: only octets not SACKed before.
  std::vector<wire::TcpSackBlock> newly;
  auto update = [&](std::uint32_t ack_offset,
                    std::initializer_list<std::pair<std::uint32_t, std::uint32_t>> list) {
    const auto bl = blocks(list);
    return sb.update(s(ack_offset), bl, s(11000), &newly);
  };
  update(1000, {{3000, 4000}, {6000, 7000}});
  EXPECT_EQ(newly, blocks({{3000, 4000}, {6000, 7000}}));
  // Over both and beyond: the gaps around and between them.
  update(1000, {{2000, 8000}});
  EXPECT_EQ(newly, blocks({{2000, 3000}, {4000, 6000}, {7000, 8000}}));
  update(1000, {{2000, 8000}});
  EXPECT_TRUE(newly.empty());
  // After the cumulative ACK moved: only the new block.
  update(2500, {{9000, 9500}});
  EXPECT_EQ(newly, blocks({{9000, 9500}}));
  // A D-SACK reports nothing new.
  update(2500, {{1000, 2000}, {9000, 9500}});
  EXPECT_TRUE(newly.empty());
}

TEST_P(SackScenario, DsackBlocksAreRecognisedNotRecorded) {
  // RFC 2883 4.1.1: a retransmission of data already received; the first block is below the ACK.
  SackUpdate u = ack(3000, {{1500, 2000}});
  ASSERT_TRUE(u.dsack.has_value());
  EXPECT_EQ(*u.dsack, b(1500, 2000));
  EXPECT_EQ(u.acked_octets, 2000u);
  EXPECT_EQ(u.newly_sacked_octets, 0u);
  EXPECT_FALSE(u.duplicate_ack);
  EXPECT_EQ(u.blocks_ignored, 0u);
  EXPECT_EQ(sb.stats().dsack_blocks, 1u);

  // RFC 2883 4.1.2-style: a duplicate above the ACK, reported inside the second block.
  u = ack(3000, {{4000, 4500}, {4000, 6000}});
  EXPECT_EQ(u.dsack, b(4000, 4500));
  EXPECT_EQ(u.newly_sacked_octets, 2000u);
  EXPECT_EQ(sb.ranges(), blocks({{4000, 6000}}));

  // The same block twice counts as inside.
  u = ack(3000, {{4000, 6000}, {4000, 6000}});
  EXPECT_TRUE(u.dsack.has_value());

  // A block straddling the ACK is a D-SACK too; its upper part is not recorded.
  u = ack(3000, {{2500, 3500}});
  EXPECT_TRUE(u.dsack.has_value());
  EXPECT_FALSE(sb.is_sacked(s(3200)));

  // Ordinary blocks: above the ACK and not inside the second.
  u = ack(3000, {{7000, 8000}, {4000, 6000}});
  EXPECT_FALSE(u.dsack.has_value());
  EXPECT_EQ(u.newly_sacked_octets, 1000u);
  u = ack(3000, {{5500, 6500}, {4000, 6000}});  // overlaps the second, not inside it
  EXPECT_FALSE(u.dsack.has_value());
  EXPECT_EQ(u.newly_sacked_octets, 500u);
  EXPECT_EQ(sb.stats().dsack_blocks, 4u);
}

TEST_P(SackScenario, BlocksOutsideTheWindowAreIgnored) {
  SackUpdate u = ack(1000, {{10000, 12000}});  // beyond HighData: never sent
  EXPECT_EQ(u.blocks_ignored, 1u);
  u = ack(1000, {{3000, 2000}});  // reversed
  EXPECT_EQ(u.blocks_ignored, 1u);
  u = ack(1000, {{3000, 3000}});  // empty
  EXPECT_EQ(u.blocks_ignored, 1u);
  EXPECT_EQ(sb.stats().blocks_invalid, 3u);
  EXPECT_EQ(sb.range_count(), 0u);
  EXPECT_EQ(sb.dup_acks(), 0u);

  // Not the first block, so no D-SACK: wholly below SND.UNA is stale, straddling is clipped.
  u = ack(1000, {{6000, 7000}, {500, 900}});
  EXPECT_EQ(u.blocks_ignored, 1u);
  EXPECT_EQ(sb.stats().blocks_stale, 1u);
  u = ack(1000, {{6000, 7000}, {900, 1500}});
  EXPECT_EQ(u.newly_sacked_octets, 500u);
  EXPECT_EQ(sb.ranges(), blocks({{1000, 1500}, {6000, 7000}}));

  // An ACK of data never sent changes nothing (the caller drops it, RFC 9293 3.10.7.4).
  u = ack(12000, {{8000, 9000}});
  EXPECT_EQ(u.acked_octets, 0u);
  EXPECT_EQ(u.newly_sacked_octets, 0u);
  EXPECT_EQ(sb.snd_una(), s(1000));
  EXPECT_EQ(sb.stats().acks_beyond_high_data, 1u);

  // An old ACK moves nothing back, but its blocks still tell what arrived.
  ack(2000);
  u = ack(1000, {{8000, 9000}});
  EXPECT_EQ(sb.snd_una(), s(2000));
  EXPECT_EQ(u.newly_sacked_octets, 1000u);
}

TEST_P(SackScenario, CumulativeAckDropsWhatItCovers) {
  ack(1000, {{4000, 6000}, {2000, 3000}});
  EXPECT_EQ(sb.sacked_octets(), 3000u);
  SackUpdate u = ack(5000);  // covers [2000, 3000) and half of [4000, 6000)
  EXPECT_EQ(u.acked_octets, 4000u);
  EXPECT_EQ(u.sacked_then_acked, 2000u);
  EXPECT_EQ(sb.ranges(), blocks({{5000, 6000}}));
  EXPECT_EQ(sb.sacked_octets(), 1000u);
  EXPECT_EQ(sb.snd_una(), s(5000));
  u = ack(6000);
  EXPECT_EQ(u.sacked_then_acked, 1000u);
  EXPECT_EQ(sb.range_count(), 0u);
  EXPECT_EQ(sb.highest_sacked(), std::nullopt);
  EXPECT_EQ(sb.sacked_octets(), 0u);
}

TEST_P(SackScenario, RescueCoversTheHighestHoleBelowTheTopRange) {
  // S1 lost; S2..S4 and S9, S10 SACKed (the top range reaches HighData).
  ack(1000, {{2000, 5000}});
  ack(1000, {{9000, 11000}, {2000, 5000}});
  ASSERT_TRUE(sb.is_lost(s(1000)));
  (void)sb.enter_recovery(s(11000));
  // S1's retransmission arrives: ACK 5000. The highest unSACKed octets are [5000, 9000)'s top.
  ack(5000, {{9000, 11000}});
  // Rule (1): S5 at 5000 has 2000 octets and 1 range above: not lost. Rule (3) sends it.
  EXPECT_EQ(sb.next_seg(s(11000), 0), seg(5000, 6000, SackSendRule::kUnsacked));
  SackScoreboard no3(config_with(kSmss, false), s(1000));
  no3.update(s(1000), blocks({{9000, 11000}, {2000, 5000}}), s(11000));
  (void)no3.enter_recovery(s(11000));
  no3.update(s(5000), blocks({{9000, 11000}}), s(11000));
  // Without rule (3), rule (4): the SMSS octets ending with the highest unSACKed octet, 8999.
  EXPECT_EQ(no3.next_seg(s(11000), 0), seg(8000, 9000, SackSendRule::kRescue));
}

TEST_P(SackScenario, RetransmissionTimeoutForgetsSacksAndHoldsOffRecovery) {
  ack(1000, {{2000, 5000}});
  ack(1000, {{6000, 7000}, {2000, 5000}});
  sb.on_retransmission_timeout(s(11000));
  // RFC 2018 8: the SACKed bits are turned off.
  EXPECT_EQ(sb.range_count(), 0u);
  EXPECT_EQ(sb.sacked_octets(), 0u);
  EXPECT_FALSE(sb.in_recovery());
  EXPECT_EQ(sb.recovery_point(), s(11000));
  EXPECT_EQ(sb.dup_acks(), 0u);
  // RFC 6675 5.1: no new recovery before HighACK reaches the RecoveryPoint.
  SackUpdate u = ack(1000, {{4000, 5000}, {2000, 3000}});
  u = ack(1000, {{6000, 7000}, {4000, 5000}, {2000, 3000}});
  EXPECT_TRUE(u.duplicate_ack);
  EXPECT_TRUE(sb.is_lost(s(1000)));
  EXPECT_FALSE(u.enter_recovery);
  // Once SND.UNA reaches it (and more was sent), a loss starts recovery again.
  ack(11000, {}, 15000);
  u = ack(11000, {{12000, 15000}}, 15000);
  EXPECT_TRUE(u.enter_recovery);
  EXPECT_EQ(sb.stats().timeouts, 1u);
}

TEST_P(SackScenario, NoSecondRecoveryBeforeTheFirstRecoveryPoint) {
  ack(1000, {{2000, 5000}});
  ack(1000, {{2000, 6000}});
  SackUpdate u = ack(1000, {{2000, 7000}});
  ASSERT_TRUE(u.enter_recovery);
  (void)sb.enter_recovery(s(11000));
  u = ack(7000, {{8000, 11000}});  // partial ACK, a further loss at S7
  EXPECT_TRUE(u.duplicate_ack);
  EXPECT_FALSE(u.enter_recovery);  // already in recovery
  EXPECT_EQ(sb.dup_acks(), 0u);    // reset by the cumulative ACK, not counted in recovery
  EXPECT_TRUE(sb.is_lost(s(7000)));
  EXPECT_EQ(sb.next_seg(s(11000), 0), seg(7000, 8000, SackSendRule::kLost));
  u = ack(11000, {}, 11000);
  EXPECT_TRUE(u.recovery_complete);
  EXPECT_EQ(sb.recovery_point(), s(11000));  // kept: a later recovery is allowed (11000 reached)
  u = ack(11000, {{12000, 16000}}, 16000);
  EXPECT_TRUE(u.enter_recovery);
}

TEST_P(SackScenario, MemoryLimitRefusesNewRangesButStillMerges) {
  SackScoreboard small(config_with(kSmss, true, 2), s(1000));
  small.update(s(1000), blocks({{2000, 3000}, {4000, 5000}}), s(11000));
  SackUpdate u = small.update(s(1000), blocks({{6000, 7000}}), s(11000));
  EXPECT_EQ(u.blocks_ignored, 1u);
  EXPECT_EQ(small.stats().blocks_refused_for_memory, 1u);
  EXPECT_EQ(small.range_count(), 2u);
  u = small.update(s(1000), blocks({{5000, 5500}}), s(11000));  // extends [4000, 5000)
  EXPECT_EQ(u.newly_sacked_octets, 500u);
  EXPECT_EQ(small.ranges(), blocks({{2000, 3000}, {4000, 5500}}));
}

TEST_P(SackScenario, ResetForgetsEverythingButCounters) {
  ack(1000, {{2000, 5000}});
  (void)sb.enter_recovery(s(11000));
  sb.reset(s(20000));
  EXPECT_EQ(sb.snd_una(), s(20000));
  EXPECT_EQ(sb.range_count(), 0u);
  EXPECT_FALSE(sb.in_recovery());
  EXPECT_EQ(sb.recovery_point(), std::nullopt);
  EXPECT_EQ(sb.high_rxt(), s(20000));
  EXPECT_EQ(sb.dup_acks(), 0u);
  EXPECT_EQ(sb.stats().recoveries, 1u);
}

// The same single-loss case with explicit numbers around 2^32: SND.UNA = 2^32 - 1000, so S1 is
// [0xFFFFFC18, 0) and the other segments follow from 0.
TEST(TcpSackScoreboard, WrapAroundWithExplicitNumbers) {
  SackScoreboard sb(config_with(), Seq(0xFFFFFC18U));
  const Seq high(9000);  // 0xFFFFFC18 + 10000
  std::vector<wire::TcpSackBlock> bl{{0, 1000}};
  sb.update(Seq(0xFFFFFC18U), bl, high);
  bl = {{0, 2000}};
  sb.update(Seq(0xFFFFFC18U), bl, high);
  bl = {{0, 3000}};
  const SackUpdate u = sb.update(Seq(0xFFFFFC18U), bl, high);
  EXPECT_TRUE(u.enter_recovery);
  EXPECT_TRUE(sb.is_lost(Seq(0xFFFFFC18U)));
  EXPECT_TRUE(sb.is_lost(Seq(0xFFFFFFFFU)));
  EXPECT_FALSE(sb.is_lost(Seq(0)));  // SACKed
  EXPECT_EQ(sb.highest_sacked(), Seq(3000));
  EXPECT_EQ(sb.enter_recovery(high), (SackSegment{Seq(0xFFFFFC18U), Seq(0), SackSendRule::kLost}));
  EXPECT_EQ(sb.pipe(high), 7000u);  // [3000, 9000) + the retransmission
  const SackUpdate after = sb.update(Seq(3000), {}, high);
  EXPECT_EQ(after.acked_octets, 4000u);
  EXPECT_EQ(after.sacked_then_acked, 3000u);
  EXPECT_EQ(sb.sacked_octets(), 0u);
}

TEST(TcpSackScoreboard, NothingOutstandingNothingToSend) {
  SackScoreboard sb(config_with(), Seq(5000));
  EXPECT_EQ(sb.pipe(Seq(5000)), 0u);
  EXPECT_EQ(sb.next_seg(Seq(5000), 0), std::nullopt);
  EXPECT_EQ(sb.next_seg(Seq(5000), 2500),
            (SackSegment{Seq(5000), Seq(6000), SackSendRule::kNewData}));
  EXPECT_FALSE(sb.is_lost(Seq(5000)));
  const SackUpdate u = sb.update(Seq(5000), {}, Seq(5000));
  EXPECT_EQ(u.acked_octets, 0u);
  EXPECT_FALSE(u.duplicate_ack);
}

}  // namespace
}  // namespace pktd::tcp
