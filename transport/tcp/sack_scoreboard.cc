#include "transport/tcp/sack_scoreboard.h"

#include <algorithm>
#include <iterator>

namespace pktd::tcp {
namespace {

Seq earlier(Seq a, Seq b) { return a < b ? a : b; }

// Octets in [from, to); zero when to is not after from.
std::uint32_t octets_between(Seq from, Seq to) {
  return to > from ? static_cast<std::uint32_t>(to - from) : 0;
}

}  // namespace

SackScoreboard::SackScoreboard(SackScoreboardConfig config, Seq snd_una)
    : config_(config), snd_una_(snd_una), high_rxt_(snd_una), rescue_rxt_(snd_una) {}

void SackScoreboard::reset(Seq snd_una) {
  snd_una_ = snd_una;
  ranges_.clear();
  sacked_octets_ = 0;
  high_rxt_ = snd_una;
  rescue_rxt_ = snd_una;
  in_recovery_ = false;
  recovery_point_.reset();
  dup_acks_ = 0;
}

// --- Update ---

SackUpdate SackScoreboard::update(Seq seg_ack, std::span<const wire::TcpSackBlock> blocks,
                                  Seq high_data, std::vector<wire::TcpSackBlock>* newly_sacked) {
  ++stats_.acks;
  if (newly_sacked) newly_sacked->clear();
  SackUpdate result;
  if (seg_ack > high_data) {
    ++stats_.acks_beyond_high_data;
    return result;
  }
  if (seg_ack > snd_una_) advance_snd_una(seg_ack, result);
  std::size_t first = 0;
  if (is_dsack(blocks, seg_ack)) {
    result.dsack = blocks[0];
    ++stats_.dsack_blocks;
    first = 1;
  }
  for (std::size_t i = first; i < blocks.size(); ++i)
    apply_block(blocks[i], high_data, result, newly_sacked);
  // The ACK that covers RecoveryPoint ends recovery before DupAcks looks at "currently in loss
  // recovery".
  if (in_recovery_ && snd_una_ >= *recovery_point_) {
    in_recovery_ = false;
    result.recovery_complete = true;
  }
  count_duplicate_ack(result);
  // RFC 6675 5, on a duplicate ACK: "(1) If DupAcks >= DupThresh, go to step (4). (2) If DupAcks <
  // DupThresh but IsLost (HighACK + 1) returns true -- indicating at least three segments have
  // arrived above the current cumulative acknowledgment point, which is taken to indicate loss --
  // go to step (4)."
  result.enter_recovery = result.duplicate_ack && !in_recovery_ && may_start_recovery() &&
                          (dup_acks_ >= kDupThresh || is_lost(snd_una_));
  return result;
}

// RFC 2883: a receiver reports a duplicate segment in the first block (4), and the sender tells
// such a D-SACK from an ordinary block by its covering data below the cumulative ACK, or by its
// lying inside the second block (5). A left edge below the ACK field is the first case (for a
// block straddling the ACK too); the second needs both edges inside the second block.
bool SackScoreboard::is_dsack(std::span<const wire::TcpSackBlock> blocks, Seq seg_ack) {
  if (blocks.empty()) return false;
  const Seq left(blocks[0].left), right(blocks[0].right);
  if (!(left < right)) return false;
  if (left < seg_ack) return true;
  if (blocks.size() < 2) return false;
  const Seq outer_left(blocks[1].left), outer_right(blocks[1].right);
  return outer_left < outer_right && outer_left <= left && right <= outer_right;
}

SackScoreboard::BlockCheck SackScoreboard::check_block(const wire::TcpSackBlock& block,
                                                       Seq high_data) const {
  const Seq left(block.left), right(block.right);
  if (!(left < right) || right > high_data) return BlockCheck::kInvalid;
  if (right <= snd_una_) return BlockCheck::kStale;
  return BlockCheck::kValid;
}

void SackScoreboard::apply_block(const wire::TcpSackBlock& block, Seq high_data,
                                 SackUpdate& result,
                                 std::vector<wire::TcpSackBlock>* newly_sacked) {
  switch (check_block(block, high_data)) {
    case BlockCheck::kInvalid:
      ++stats_.blocks_invalid;
      ++result.blocks_ignored;
      return;
    case BlockCheck::kStale:
      ++stats_.blocks_stale;
      ++result.blocks_ignored;
      return;
    case BlockCheck::kValid:
      break;
  }
  // Only the part above SND.UNA is news; what lies below was cumulatively acknowledged.
  const auto added = record(later(Seq(block.left), snd_una_), Seq(block.right), newly_sacked);
  if (!added) {
    ++stats_.blocks_refused_for_memory;
    ++result.blocks_ignored;
    return;
  }
  ++stats_.blocks_recorded;
  result.newly_sacked_octets += *added;
}

void SackScoreboard::advance_snd_una(Seq seg_ack, SackUpdate& result) {
  result.acked_octets = static_cast<std::uint32_t>(seg_ack - snd_una_);
  snd_una_ = seg_ack;
  // RFC 6675 4 Update(): SACKed octets now below the cumulative ACK leave the scoreboard.
  while (!ranges_.empty() && ranges_.begin()->first < snd_una_) {
    const auto lowest = ranges_.begin();
    const Seq start = lowest->first, end = lowest->second;
    const std::uint32_t gone = static_cast<std::uint32_t>(earlier(end, snd_una_) - start);
    ranges_.erase(lowest);
    if (end > snd_una_) ranges_.emplace(snd_una_, end);
    sacked_octets_ -= gone;
    result.sacked_then_acked += gone;
  }
  high_rxt_ = later(high_rxt_, snd_una_);
}

std::optional<std::uint32_t> SackScoreboard::record(Seq left, Seq right,
                                                    std::vector<wire::TcpSackBlock>* newly_sacked) {
  auto report = [newly_sacked](Seq from, Seq to) {
    if (newly_sacked && from < to) newly_sacked->push_back({from.value(), to.value()});
  };
  // The first range that could overlap or touch [left, right): the one starting at or before
  // left if it reaches left, else the first one after left.
  auto it = ranges_.upper_bound(left);
  if (it != ranges_.begin() && std::prev(it)->second >= left) --it;
  if (it == ranges_.end() || it->first > right) {
    if (ranges_.size() >= config_.max_ranges) return std::nullopt;
    ranges_.emplace_hint(it, left, right);
    const auto added = static_cast<std::uint32_t>(right - left);
    sacked_octets_ += added;
    report(left, right);
    return added;
  }
  // Merge every range from it that overlaps or touches [left, right) into one; the gaps between
  // them within [left, right) are what is new.
  const Seq start = earlier(it->first, left);
  Seq end = right;
  std::uint32_t already = 0;
  Seq cursor = left;
  while (it != ranges_.end() && it->first <= right) {
    report(cursor, earlier(it->first, right));
    cursor = later(cursor, it->second);
    end = later(end, it->second);
    already += static_cast<std::uint32_t>(it->second - it->first);
    it = ranges_.erase(it);
  }
  report(cursor, right);
  ranges_.emplace_hint(it, start, end);
  const std::uint32_t added = static_cast<std::uint32_t>(end - start) - already;
  sacked_octets_ += added;
  return added;
}

void SackScoreboard::count_duplicate_ack(SackUpdate& result) {
  // RFC 6675 5: a cumulative acknowledgment resets DupAcks to zero; then "If the incoming ACK is a
  // duplicate acknowledgment per the definition in Section 2 (regardless of its status as a
  // cumulative acknowledgment), and the TCP is not currently in loss recovery, the TCP MUST
  // increase DupAcks by one".
  if (result.acked_octets > 0) dup_acks_ = 0;
  result.duplicate_ack = result.newly_sacked_octets > 0;
  if (result.duplicate_ack && !in_recovery_) ++dup_acks_;
}

bool SackScoreboard::may_start_recovery() const {
  // RFC 6675 5.1, after a timeout: "a new recovery phase (as described in Section 5) MUST NOT be
  // initiated until HighACK is greater than or equal to the new value of RecoveryPoint" (RFC 3517
  // 5 said the same of every recovery: "If no previous loss event has occurred on the connection
  // or the cumulative acknowledgment point is beyond the last value of RecoveryPoint"). With
  // RecoveryPoint + 1 stored, that is SND.UNA >= recovery_point_. After a recovery that ended
  // normally it holds already: that is how the recovery ended.
  return !recovery_point_ || snd_una_ >= *recovery_point_;
}

// --- Queries ---

std::optional<Seq> SackScoreboard::highest_sacked() const {
  if (ranges_.empty()) return std::nullopt;
  return ranges_.rbegin()->second;
}

bool SackScoreboard::is_sacked(Seq seq) const {
  auto it = ranges_.upper_bound(seq);
  return it != ranges_.begin() && seq < std::prev(it)->second;
}

std::vector<wire::TcpSackBlock> SackScoreboard::ranges() const {
  std::vector<wire::TcpSackBlock> out;
  out.reserve(ranges_.size());
  for (const auto& [start, end] : ranges_) out.push_back({start.value(), end.value()});
  return out;
}

bool SackScoreboard::lost_with_above(std::uint32_t ranges_above,
                                     std::uint64_t octets_above) const {
  return ranges_above >= kDupThresh ||
         octets_above > std::uint64_t{kDupThresh - 1} * config_.smss;
}

bool SackScoreboard::is_lost(Seq seq) const {
  if (seq < snd_una_ || is_sacked(seq)) return false;
  // seq is in no range, so every range starting after it lies wholly above it. The answer is yes
  // as soon as the ranges seen pass either threshold: at most DupThresh steps.
  std::uint32_t ranges_above = 0;
  std::uint64_t octets_above = 0;
  for (auto it = ranges_.upper_bound(seq); it != ranges_.end(); ++it) {
    ++ranges_above;
    octets_above += static_cast<std::uint32_t>(it->second - it->first);
    if (lost_with_above(ranges_above, octets_above)) return true;
  }
  return false;
}

std::uint32_t SackScoreboard::pipe(Seq high_data) const {
  // Every octet of one hole (a gap between SACKed ranges) has the same SACKed data above it, so
  // IsLost is the same for the whole hole: walk the holes from the top, counting what lies above.
  std::uint64_t pipe = 0;
  std::uint32_t ranges_above = 0;
  std::uint64_t octets_above = 0;
  auto add_hole = [&](Seq from, Seq to) {
    if (!lost_with_above(ranges_above, octets_above)) pipe += octets_between(from, to);  // (a)
    pipe += octets_between(from, earlier(to, high_rxt_));                                // (b)
  };
  Seq hole_end = high_data;
  for (auto it = ranges_.rbegin(); it != ranges_.rend(); ++it) {
    add_hole(it->second, hole_end);
    ++ranges_above;
    octets_above += static_cast<std::uint32_t>(it->second - it->first);
    hole_end = it->first;
  }
  add_hole(snd_una_, hole_end);
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(pipe, UINT32_MAX));
}

// --- NextSeg ---

Seq SackScoreboard::first_unsacked_from(Seq seq) const {
  // Ranges never touch, so the end of the range holding seq is not SACKed.
  auto it = ranges_.upper_bound(seq);
  if (it != ranges_.begin() && seq < std::prev(it)->second) return std::prev(it)->second;
  return seq;
}

SackSegment SackScoreboard::retransmission_from(Seq start, SackSendRule rule) const {
  // Up to SMSS octets, stopping where SACKed data begins.
  Seq end = start + config_.smss;
  const auto next = ranges_.upper_bound(start);
  if (next != ranges_.end()) end = earlier(end, next->first);
  return SackSegment{start, end, rule};
}

std::optional<SackSegment> SackScoreboard::next_seg(Seq high_data,
                                                    std::uint32_t new_data_allowance) const {
  // (1.a) S2 > HighRxt, the first such unSACKed octet; (1.b) below the highest SACKed octet.
  std::optional<SackSegment> unsacked_hole;
  const auto highest = highest_sacked();
  const Seq s2 = first_unsacked_from(later(snd_una_, high_rxt_));
  if (highest && s2 < *highest) {
    // (1.c) IsLost(S2). An unSACKed octet has at least as much SACKed data above it as any
    // unSACKed octet above it, so if the first candidate is not lost no later one is; the first
    // candidate is also rule (3)'s.
    if (is_lost(s2)) return retransmission_from(s2, SackSendRule::kLost);
    unsacked_hole = retransmission_from(s2, SackSendRule::kUnsacked);
  }
  // (2) "...of previously unsent data starting with sequence number HighData+1".
  if (new_data_allowance > 0) {
    return SackSegment{high_data, high_data + std::min(new_data_allowance, config_.smss),
                       SackSendRule::kNewData};
  }
  // (3) "If the conditions for rules (1) and (2) fail, but there exists an unSACKed sequence
  // number 'S3' that meets the criteria for detecting loss given in steps (1.a) and (1.b) above
  // (specifically excluding step (1.c)), then one segment of up to SMSS octets starting with S3
  // SHOULD be returned."
  if (unsacked_hole && config_.retransmit_unlost_holes) return unsacked_hole;
  return rescue(high_data);
}

// (4) "If the conditions for (1), (2), and (3) fail, but there exists outstanding unSACKed data,
// we provide the opportunity for a single "rescue" retransmission per entry into loss recovery.
// If HighACK is greater than RescueRxt (or RescueRxt is undefined), then one segment of upto SMSS
// octets that MUST include the highest outstanding unSACKed sequence number SHOULD be returned".
std::optional<SackSegment> SackScoreboard::rescue(Seq high_data) const {
  if (!in_recovery_ || !(snd_una_ > rescue_rxt_)) return std::nullopt;
  // The highest hole: above the highest range, or else just below it.
  Seq hole_start = snd_una_, hole_end = high_data;
  if (!ranges_.empty()) {
    const auto top = std::prev(ranges_.end());
    if (top->second < high_data) {
      hole_start = top->second;
    } else {
      hole_end = top->first;
      if (top != ranges_.begin()) hole_start = std::prev(top)->second;
    }
  }
  const std::uint32_t hole = octets_between(hole_start, hole_end);
  if (hole == 0) return std::nullopt;
  // The SMSS octets (or fewer) that end with the highest unSACKed octet.
  return SackSegment{hole_end - std::min(hole, config_.smss), hole_end, SackSendRule::kRescue};
}

// --- Sending and recovery ---

void SackScoreboard::note_sent(const SackSegment& segment) {
  switch (segment.rule) {
    case SackSendRule::kLost:
    case SackSendRule::kUnsacked:
      // (C.2) "HighRxt MUST be set to the highest sequence number of the retransmitted segment".
      high_rxt_ = later(high_rxt_, segment.end);
      stats_.retransmitted_octets += segment.length();
      return;
    case SackSendRule::kRescue:
      // (4) "...and RescueRxt set to RecoveryPoint. HighRxt MUST NOT be updated."
      if (recovery_point_) rescue_rxt_ = *recovery_point_;
      stats_.retransmitted_octets += segment.length();
      ++stats_.rescue_retransmissions;
      return;
    case SackSendRule::kNewData:
      return;
  }
}

SackSegment SackScoreboard::enter_recovery(Seq high_data) {
  // (4.1) "RecoveryPoint = HighData. When the TCP sender receives a cumulative ACK for this data
  // octet, the loss recovery phase is terminated."
  recovery_point_ = high_data;
  in_recovery_ = true;
  ++stats_.recoveries;
  // (4.3) "Retransmit the first data segment presumed dropped -- the segment starting with
  // sequence number HighACK + 1. To prevent repeated retransmission of the same data or a
  // premature rescue retransmission, set both HighRxt and RescueRxt to the highest sequence
  // number in the retransmitted segment."
  SackSegment first = retransmission_from(snd_una_, SackSendRule::kLost);
  first.end = earlier(first.end, later(high_data, snd_una_));
  high_rxt_ = first.end;
  rescue_rxt_ = first.end;
  stats_.retransmitted_octets += first.length();
  return first;
}

Seq SackScoreboard::sacked_end(Seq seq) const {
  auto it = ranges_.upper_bound(seq);
  if (it == ranges_.begin()) return seq;
  --it;
  return seq < it->second ? it->second : seq;
}

std::optional<Seq> SackScoreboard::next_sacked_start(Seq seq) const {
  auto it = ranges_.upper_bound(seq);
  if (it == ranges_.end()) return std::nullopt;
  return it->first;
}

void SackScoreboard::on_retransmission_timeout_keeping_sacks(Seq high_data) {
  ++stats_.timeouts;
  recovery_point_ = high_data;
  in_recovery_ = false;
  high_rxt_ = snd_una_;
  rescue_rxt_ = snd_una_;
  dup_acks_ = 0;
}

void SackScoreboard::on_retransmission_timeout(Seq high_data) {
  ++stats_.timeouts;
  ranges_.clear();
  sacked_octets_ = 0;
  recovery_point_ = high_data;
  in_recovery_ = false;
  high_rxt_ = snd_una_;
  rescue_rxt_ = snd_una_;
  dup_acks_ = 0;
}

}  // namespace pktd::tcp
