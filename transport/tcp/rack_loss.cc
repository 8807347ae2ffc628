// The connection's use of RACK (RFC 8985 6, rack.h) beside RFC 6675's scoreboard: every data
// segment sent is recorded with its time, every ACK delivers segments and may mark others lost,
// a loss starts recovery (DupThresh still does too), and recovery retransmits what RACK marked
// lost before anything NextSeg() picks. With SACK only: RACK needs to know what was delivered.
#include <algorithm>

#include "transport/tcp/connection.h"

namespace pktd::tcp {

void Connection::rack_note_sent(Seq seq, std::uint32_t len, wire::TcpFlags flags,
                                time::TimePoint now) {
  // RFC 8985 6.2, upon transmitting a segment. The SYN is the handshake's, not data.
  if (!rack_ || flags.syn || (len == 0 && !flags.fin)) return;
  rack_->on_sent(seq, seq + len + (flags.fin ? 1U : 0U), now);
}

std::optional<time::TimePoint> Connection::echoed_send_time(const SegmentIn& seg,
                                                            time::TimePoint now) const {
  // The TSecr is our timestamp clock (milliseconds, RFC 7323 5.4) when the segment it answers
  // was sent: turned back into a time, to the millisecond.
  if (!ts_enabled_ || !seg.options.timestamps || seg.options.timestamps->echo_reply == 0)
    return std::nullopt;
  const std::uint32_t elapsed = timestamp_clock(now) - seg.options.timestamps->echo_reply;
  if (static_cast<std::int32_t>(elapsed) < 0) return std::nullopt;
  return std::chrono::floor<std::chrono::milliseconds>(now) - std::chrono::milliseconds(elapsed);
}

bool Connection::rack_in_recovery() const {
  // RFC 8985 6.2 step 4's "in Fast or RTO recovery": a recovery, or a timeout's RecoveryPoint
  // not yet reached.
  return scoreboard_->in_recovery() || !scoreboard_->may_start_recovery();
}

void Connection::rack_ack(const SegmentIn& seg, const SackUpdate& u, time::TimePoint now) {
  if (!rack_) return;
  const RackAck ack{.now = now,
                    .snd_una = snd_una_,
                    .snd_nxt = snd_max_,
                    .echoed = echoed_send_time(seg, now),
                    .dsack = u.dsack.has_value()};
  rack_->on_ack(ack, newly_sacked_);
  rack_detect_loss(now);
}

void Connection::rack_detect_loss(time::TimePoint now) {
  rack_at_.reset();
  if (snd_una_ == snd_max_) return;
  const std::optional<time::Duration> srtt =
      rto_.has_estimate() ? std::optional(rto_.srtt()) : std::nullopt;
  const RackLossCheck check = rack_->detect_loss(now, rack_in_recovery(), srtt);
  owner_.counters().rack_lost_marked += check.newly_lost;
  // RFC 8985 6.2 step 5: "Arm the RACK timer" for the segment still inside its window.
  rack_at_ = check.timer;
}

bool Connection::rack_starts_recovery() const {
  // RFC 8985 (unlike DupThresh) needs no number of duplicate ACKs: a segment deemed lost starts
  // recovery, if RFC 6675 5.1 allows a new one.
  return rack_ && rack_->next_lost() && !cc_->in_recovery() && !scoreboard_->in_recovery() &&
         scoreboard_->may_start_recovery();
}

void Connection::on_rack_timeout(time::TimePoint now) {
  rack_at_.reset();
  if (!rack_ || snd_una_ == snd_max_) return;
  ++owner_.counters().rack_reorder_timeouts;
  // RFC 8985 6.2 step 5: the timer runs RACK_detect_loss_and_arm_timer() again.
  rack_detect_loss(now);
  if (!rack_->next_lost()) return;
  if (rack_starts_recovery()) {
    ++owner_.counters().rack_recoveries;
    enter_sack_recovery(in_flight(), now);
  }
  output(now);
}

std::uint32_t Connection::rack_pipe() const {
  // RFC 6675's SetPipe counts a retransmission as in flight until it is SACKed; a retransmission
  // RACK deemed lost is not (RFC 8985 does not count lost segments).
  const std::uint32_t pipe = scoreboard_->pipe(snd_max_);
  if (!rack_) return pipe;
  const std::uint32_t lost = rack_->lost_retransmitted_octets();
  const std::uint32_t rfc6675 = pipe > lost ? pipe - lost : 0;
  // SetPipe also counts the original of a segment RACK deemed lost and resent, while IsLost does
  // not call it lost (fewer than DupThresh SACKs above it): twice, with its retransmission. With
  // a window of two that leaves no room to send anything after the retransmission, so nothing
  // can reveal its loss but the retransmission timer. RACK counts it once; the smaller estimate
  // wins (what either deems lost has left the network). Only with timestamps: without them RACK
  // cannot tell which transmission of a resent segment was delivered (RFC 8985 6.2 step 2 has
  // only the min_RTT test), may call in-flight retransmissions lost, and its count, too low,
  // then let recovery resend faster than anything left the network (seen in the simulator at
  // 20% loss).
  if (!ts_enabled_) return rfc6675;
  return std::min(rfc6675, rack_->in_flight_octets());
}

std::uint32_t Connection::retransmit_rack_lost(time::TimePoint now) {
  if (!rack_) return 0;
  const auto lost = rack_->next_lost();
  if (!lost) return 0;
  // At most one SMSS (a record from before a path MTU drop may be larger); the FIN goes with
  // the octets before it when they fit.
  const Seq start = later(Seq(lost->left), snd_una_);
  Seq end = Seq(lost->right);
  const bool with_fin = fin_sent_ && end == fin_seq_ + 1;
  if (static_cast<std::uint32_t>(end - start) > smss_ + (with_fin ? 1U : 0U)) end = start + smss_;
  if (!(start < end)) return 0;
  const std::uint64_t before = owner_.counters().segments_sent;
  send_range(start, end, now, true);
  if (owner_.counters().segments_sent == before) return 0;
  ++owner_.counters().retransmits_rack;
  // HighRxt moves past it (RFC 6675 5 (C.2)), so NextSeg does not send it once more.
  scoreboard_->note_sent(SackSegment{start, end, SackSendRule::kLost});
  return static_cast<std::uint32_t>(end - start);
}

}  // namespace pktd::tcp
