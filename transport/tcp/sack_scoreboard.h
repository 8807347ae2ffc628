// The sender's SACK scoreboard and RFC 6675's loss recovery bookkeeping: which octets above
// SND.UNA the peer has selectively acknowledged (RFC 2018), which of the others are deemed lost
// (IsLost), how much data is still in the network (SetPipe), and what to send next (NextSeg).
// Congestion control (how large cwnd is) lives in congestion.h; the connection loops RFC 6675 5's
// step (C): while cwnd - pipe() >= SMSS, send next_seg() and report it with note_sent().
//
// Conventions. RFC 6675 2 names octets: HighACK is the last octet cumulatively acknowledged,
// HighData the last octet sent, HighRxt the last octet retransmitted. pktd's sequence numbers name
// the octet after a range (half-open ranges, as SND.UNA and SND.NXT do), so here:
//   HighACK + 1  = snd_una()        (SND.UNA)
//   HighData + 1 = high_data         (the caller's SND.NXT, SND.MAX after a timeout pulled SND.NXT
//                                     back: the end of everything ever sent)
//   HighRxt + 1  = high_rxt()
//   RescueRxt + 1 = rescue_rxt(), RecoveryPoint + 1 = recovery_point()
// RFC 6675's "S1 <= HighRxt" is then s < high_rxt(), and "HighACK > RescueRxt" is
// snd_una() > rescue_rxt().
//
// Everything held lies within [SND.UNA, high_data], less than 2^31 octets (windows are below 2^30,
// RFC 7323 2.3), so Seq's modulo-2^32 order is a true order there and the std::map below may be
// keyed by Seq across the wrap.
//
// Policy decisions:
// - The scoreboard holds octets, not segments. IsLost's "DupThresh discontiguous SACKed sequences"
//   is read as DupThresh separate SACKed ranges above the octet; runs of small adjacent segments
//   count through the octet rule ((DupThresh - 1) * SMSS octets) instead.
// - D-SACK blocks (RFC 2883 4 and 5: the first block, when it lies below the ACK field or inside
//   the second block) report duplicates, not new data: they are counted and handed back, never
//   recorded.
// - Blocks reaching beyond high_data (data never sent) or empty are ignored; blocks wholly at or
//   below SND.UNA are stale and ignored; a block straddling SND.UNA keeps its part above.
// - Reneging (a receiver dropping SACKed data, RFC 2018 8) is handled as RFC 2018 8 and RFC 6675
//   5.1 describe: on a retransmission timeout the scoreboard forgets every SACK
//   (on_retransmission_timeout). Between timeouts, SACKed octets stay SACKed until cumulatively
//   acknowledged.
// - Memory: at most max_ranges separate ranges. A block that would add one more is ignored and
//   counted (the data is then merely retransmitted when it did not need to be): a lying receiver
//   could otherwise SACK every other octet of the window.
//
// Cost: one std::map node per separate SACKed range; update is O(blocks * log n), is_lost
// O(log n) (it stops after DupThresh ranges), pipe O(n), next_seg O(log n).
//
// Pure: no clock, no I/O. Stack context only; not thread safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "transport/tcp/sequence.h"
#include "wire/tcp.h"

namespace pktd::tcp {

// Which of RFC 6675 4's NextSeg rules chose a segment.
enum class SackSendRule : std::uint8_t {
  kLost,      // (1): the first unSACKed octet above HighRxt that IsLost, below the highest SACK
  kNewData,   // (2): previously unsent data starting at HighData + 1
  kUnsacked,  // (3): as (1) but not (yet) deemed lost
  kRescue,    // (4): the one "rescue" retransmission per recovery, of the highest unSACKed octet
};

// A range of at most SMSS octets to send, [start, end).
struct SackSegment {
  Seq start;
  Seq end;
  SackSendRule rule = SackSendRule::kLost;

  [[nodiscard]] std::uint32_t length() const { return static_cast<std::uint32_t>(end - start); }
  [[nodiscard]] bool retransmission() const { return rule != SackSendRule::kNewData; }
  friend bool operator==(const SackSegment&, const SackSegment&) = default;
};

// What one ACK did to the scoreboard.
struct SackUpdate {
  std::uint32_t acked_octets = 0;         // how far SND.UNA advanced
  std::uint32_t sacked_then_acked = 0;    // of those, octets that had been SACKed before
  std::uint32_t newly_sacked_octets = 0;  // octets SACKed for the first time
  std::optional<wire::TcpSackBlock> dsack;  // the D-SACK block, if the first block was one
  std::uint32_t blocks_ignored = 0;       // invalid, stale or refused for memory (not the D-SACK)
  // RFC 6675 2: a duplicate acknowledgment is "a segment that arrives carrying a SACK block that
  // identifies previously unacknowledged and un-SACKed octets between HighACK and HighData", even
  // if it also moves the cumulative acknowledgment point. Reported in recovery too, though
  // DupAcks only counts it outside recovery (RFC 6675 5).
  bool duplicate_ack = false;
  // RFC 6675 5 steps (1) and (2): on a duplicate ACK, outside recovery, once DupAcks >= DupThresh
  // or IsLost(HighACK + 1), and if no recovery ran before or SND.UNA reached its RecoveryPoint.
  // The caller then calls enter_recovery (and CongestionControl::on_enter_recovery).
  bool enter_recovery = false;
  // The cumulative ACK covered RecoveryPoint: "the loss recovery phase is terminated" (RFC 6675
  // 5 (4.1)). The caller calls CongestionControl::on_exit_recovery.
  bool recovery_complete = false;
};

struct SackScoreboardStats {
  std::uint64_t acks = 0;                       // update calls
  std::uint64_t acks_beyond_high_data = 0;      // refused: acknowledge data never sent
  std::uint64_t blocks_recorded = 0;            // blocks that were applied (even if nothing new)
  std::uint64_t blocks_invalid = 0;             // empty, reversed or reaching beyond high_data
  std::uint64_t blocks_stale = 0;               // wholly at or below SND.UNA
  std::uint64_t blocks_refused_for_memory = 0;  // would have exceeded max_ranges
  std::uint64_t dsack_blocks = 0;               // RFC 2883 duplicate reports
  std::uint64_t recoveries = 0;                 // enter_recovery calls
  std::uint64_t retransmitted_octets = 0;       // by note_sent, rules (1), (3) and (4)
  std::uint64_t rescue_retransmissions = 0;     // rule (4)
  std::uint64_t timeouts = 0;                   // on_retransmission_timeout calls
};

struct SackScoreboardConfig {
  // SMSS (RFC 5681 2): the largest segment NextSeg returns, and the unit of IsLost's octet rule.
  std::uint32_t smss = 536;
  // NextSeg rule (3), which RFC 6675 says SHOULD be used: retransmit holes below the highest SACK
  // that are not yet deemed lost when there is neither a lost hole nor new data to send.
  bool retransmit_unlost_holes = true;
  // See "Memory" above.
  std::size_t max_ranges = 1024;
};

class SackScoreboard {
 public:
  // RFC 6675 2's DupThresh: the number of duplicate ACKs that triggers fast retransmit, 3 as in
  // RFC 5681 3.2.
  static constexpr std::uint32_t kDupThresh = 3;

  // A scoreboard for a connection whose SND.UNA is snd_una (after the handshake: ISS + 1).
  SackScoreboard(SackScoreboardConfig config, Seq snd_una);

  // RFC 6675 4 Update(): applies one acceptable ACK, its cumulative acknowledgment seg_ack and its
  // SACK blocks in the order received. high_data is SND.NXT (see the conventions above). An ACK
  // of data never sent (seg_ack beyond high_data; RFC 9293 3.10.7.4 drops it) changes nothing and
  // is counted; an old ACK (seg_ack before SND.UNA) moves nothing but its blocks still count.
  // newly_sacked, if given, receives every range SACKed for the first time (RACK, rack.h, times
  // the segments it delivered); it is cleared first.
  SackUpdate update(Seq seg_ack, std::span<const wire::TcpSackBlock> blocks, Seq high_data,
                    std::vector<wire::TcpSackBlock>* newly_sacked = nullptr);

  // RFC 6675 4 IsLost(SeqNum): "returns true when either DupThresh discontiguous SACKed sequences
  // have arrived above 'SeqNum' or more than (DupThresh - 1) * SMSS bytes with sequence numbers
  // greater than 'SeqNum' have been SACKed." False for an octet that is SACKed or below SND.UNA
  // (it was delivered).
  [[nodiscard]] bool is_lost(Seq seq) const;

  // RFC 6675 4 SetPipe(): for every octet in [SND.UNA, high_data) not SACKed, one if it is not
  // lost (the original may still be in flight) and one more if it was retransmitted in this
  // recovery (below HighRxt).
  [[nodiscard]] std::uint32_t pipe(Seq high_data) const;

  // RFC 6675 4 NextSeg(): what to send next, or nullopt. new_data_allowance is how many new octets
  // may go at high_data: unsent data in the send buffer, within the peer's window (rule (2)'s
  // "there exists available unsent data and the receiver's advertised window allows"); 0 for none.
  // Rules are tried in order (1), (2), (3) (if configured), (4) (in recovery only). The caller
  // checks cwnd - pipe >= SMSS first (RFC 6675 5 (C)) and reports what it sent with note_sent.
  [[nodiscard]] std::optional<SackSegment> next_seg(Seq high_data,
                                                    std::uint32_t new_data_allowance) const;

  // Records that a segment from next_seg was sent: RFC 6675 5 (C.2) moves HighRxt to its end for
  // a retransmission by rules (1) and (3); rule (4) sets RescueRxt to RecoveryPoint and leaves
  // HighRxt ("HighRxt MUST NOT be updated"). New data changes nothing here: the caller's SND.NXT
  // moves (C.3) and the next call passes it as high_data.
  void note_sent(const SackSegment& segment);

  // RFC 6675 5 step (4), entering loss recovery: RecoveryPoint = HighData (4.1), and the segment
  // to retransmit first (4.3), "the segment starting with sequence number HighACK + 1" (at most
  // SMSS, not into SACKed data); HighRxt and RescueRxt are set to its end. Returns that segment
  // (empty when nothing is outstanding, which the caller never asks). It is recorded as sent
  // already: do not pass it to note_sent.
  SackSegment enter_recovery(Seq high_data);

  // The retransmission timer expired. RFC 2018 8: "After a retransmit timeout the data sender
  // SHOULD turn off all of the SACKed bits, since the timeout might indicate that the data
  // receiver has reneged"; RFC 6675 5.1: "If an RTO occurs during loss recovery ...,
  // RecoveryPoint MUST be set to HighData" and recovery ends; a new one may begin only once
  // HighACK reaches that RecoveryPoint. The RecoveryPoint is set in or out of recovery (a
  // timeout's go-back-N retransmits everything below high_data anyway).
  void on_retransmission_timeout(Seq high_data);
  // The same, but the SACKed ranges are kept (RFC 2018 8's SHOULD is departed from, as Linux
  // does: it forgets them only when it sees the receiver renege). A timeout's go-back-N then
  // resends only what the peer has not SACKed.
  void on_retransmission_timeout_keeping_sacks(Seq high_data);
  // One past the SACKed range holding seq, or seq when it is not SACKed.
  [[nodiscard]] Seq sacked_end(Seq seq) const;
  // The start of the first SACKed range above seq, if any.
  [[nodiscard]] std::optional<Seq> next_sacked_start(Seq seq) const;

  // RFC 6675 5.1: whether a new recovery may begin (no timeout's or recovery's RecoveryPoint is
  // still ahead of SND.UNA). RACK (rack.h) asks before it starts one.
  [[nodiscard]] bool may_start_recovery() const;

  // Forgets everything but the counters: a new connection, or one whose SND.UNA was reset.
  void reset(Seq snd_una);

  // SMSS changed (path MTU discovery).
  void set_smss(std::uint32_t smss) { config_.smss = smss; }

  // --- State ---
  [[nodiscard]] Seq snd_una() const { return snd_una_; }
  [[nodiscard]] std::uint32_t sacked_octets() const { return sacked_octets_; }
  // One past the highest SACKed octet (RFC 6675 NextSeg (1.b)'s "highest octet covered by any
  // received SACK", plus one), or nullopt when nothing is SACKed.
  [[nodiscard]] std::optional<Seq> highest_sacked() const;
  [[nodiscard]] bool is_sacked(Seq seq) const;
  [[nodiscard]] Seq high_rxt() const { return high_rxt_; }
  [[nodiscard]] Seq rescue_rxt() const { return rescue_rxt_; }
  [[nodiscard]] bool in_recovery() const { return in_recovery_; }
  // The last RecoveryPoint, kept after recovery ends (a new one needs SND.UNA to reach it).
  [[nodiscard]] std::optional<Seq> recovery_point() const { return recovery_point_; }
  // RFC 6675 5's DupAcks: duplicate ACKs received outside recovery since the last cumulative
  // acknowledgment.
  [[nodiscard]] std::uint32_t dup_acks() const { return dup_acks_; }
  [[nodiscard]] std::size_t range_count() const { return ranges_.size(); }
  // Every SACKed range, lowest first (diagnostics and tests; allocates).
  [[nodiscard]] std::vector<wire::TcpSackBlock> ranges() const;
  [[nodiscard]] const SackScoreboardConfig& config() const { return config_; }
  [[nodiscard]] const SackScoreboardStats& stats() const { return stats_; }

 private:
  enum class BlockCheck : std::uint8_t { kValid, kInvalid, kStale };

  [[nodiscard]] static bool is_dsack(std::span<const wire::TcpSackBlock> blocks, Seq seg_ack);
  [[nodiscard]] BlockCheck check_block(const wire::TcpSackBlock& block, Seq high_data) const;
  void apply_block(const wire::TcpSackBlock& block, Seq high_data, SackUpdate& result,
                   std::vector<wire::TcpSackBlock>* newly_sacked);
  void advance_snd_una(Seq seg_ack, SackUpdate& result);
  // Adds [left, right) to the ranges, merging with what it overlaps or touches. Returns the octets
  // that were not SACKed before (appending their ranges to newly_sacked, if given), or nullopt
  // when it would exceed max_ranges.
  [[nodiscard]] std::optional<std::uint32_t> record(Seq left, Seq right,
                                                    std::vector<wire::TcpSackBlock>* newly_sacked);
  void count_duplicate_ack(SackUpdate& result);

  [[nodiscard]] bool lost_with_above(std::uint32_t ranges_above, std::uint64_t octets_above) const;
  [[nodiscard]] Seq first_unsacked_from(Seq seq) const;
  [[nodiscard]] SackSegment retransmission_from(Seq start, SackSendRule rule) const;
  [[nodiscard]] std::optional<SackSegment> rescue(Seq high_data) const;

  SackScoreboardConfig config_;
  Seq snd_una_;
  std::map<Seq, Seq> ranges_;  // start -> end of each maximal SACKed range; never touching
  std::uint32_t sacked_octets_ = 0;
  Seq high_rxt_;     // HighRxt + 1; never below snd_una_
  Seq rescue_rxt_;   // RescueRxt + 1; meaningful in recovery
  bool in_recovery_ = false;
  std::optional<Seq> recovery_point_;  // RecoveryPoint + 1
  std::uint32_t dup_acks_ = 0;
  SackScoreboardStats stats_;
};

}  // namespace pktd::tcp
