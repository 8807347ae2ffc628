// SEGMENT ARRIVES (RFC 9293 3.10.7.3 and 3.10.7.4), with RFC 5961's protections against blind
// resets, SYNs and data injection, and RFC 7323's PAWS.
#include <algorithm>
#include <cerrno>

#include "transport/tcp/connection.h"

namespace pktd::tcp {

void Connection::segment_arrives(const SegmentIn& in, time::TimePoint now) {
  if (state_ == State::closed || state_ == State::listen) return;
  last_received_ = now;
  if (state_ == State::syn_sent) {
    syn_sent_arrives(in, now);
    announce_deadline();
    return;
  }
  TcpCounters& c = owner_.counters();
  // A retransmitted SYN while we wait for the handshake's ACK: our SYN-ACK was lost.
  if (state_ == State::syn_received && in.flags.syn && !in.flags.ack && in.seq == irs_) {
    send_segment(iss_, 0, wire::TcpFlags{.syn = true, .ack = true}, now, true);
    ++c.retransmits_syn;
    return;
  }
  // RFC 7323 5.3 R1: PAWS before the window test.
  if (paws_rejects(in, now)) {
    ++c.paws_rejected;
    if (!in.flags.rst) send_ack(now);
    return;
  }
  // RFC 9293 3.10.7.4 first: the sequence number test.
  if (!acceptable(in)) {
    if (in.flags.rst) ++c.rst_out_of_window;  // RFC 5961 3.2: silently dropped
    else ++c.not_acceptable;
    // RFC 9293 3.10.7.4: in TIME-WAIT a retransmitted FIN is acknowledged and restarts the 2 MSL
    // wait (it arrives below RCV.NXT, so it fails the window test and lands here).
    if (state_ == State::time_wait && in.flags.fin && !in.flags.rst) time_wait_at_ = now + config_.time_wait;
    if (!in.flags.rst) send_ack(now);  // "send an acknowledgment ... drop the unacceptable segment"
    return;
  }
  if (in.flags.rst) {
    handle_rst(in, now);
    return;
  }
  SegmentIn seg = in;
  trim_to_window(seg);
  restart_keepalive(now);
  keepalive_probes_sent_ = 0;
  // Fourth: a SYN in a synchronized state (RFC 5961 4.2).
  if (seg.flags.syn) {
    handle_syn(seg, now);
    return;
  }
  // Fifth: the ACK field.
  if (!seg.flags.ack) {
    ++c.no_ack_flag;
    return;
  }
  if (!handle_ack(seg, now)) {
    announce_deadline();
    return;
  }
  // RFC 7323 4.3: TS.Recent only from a segment that passed every check (an in-window segment
  // with a bogus ACK must not move it).
  update_timestamp_recent(in);
  // Sixth: the URG bit. pktd keeps urgent data inline (as SO_OOBINLINE): it is counted, and the
  // octets reach the application in order, never lost or reordered.
  if (seg.flags.urg) ++c.urgent_received;
  // Seventh and eighth: the text and the FIN.
  if (!seg.payload.empty()) segment_text(seg, now);
  if (seg.flags.fin && state_ != State::closed) {
    ooo_.note_fin(seg.seq + static_cast<std::uint32_t>(seg.payload.size()));
    if (seg.seq + static_cast<std::uint32_t>(seg.payload.size()) != rcv_nxt_) ack_now_ = true;
  }
  if (state_ != State::closed && !peer_fin_received_ && ooo_.fin_reached(rcv_nxt_)) fin_arrives(now);
  if (state_ == State::closed) return;
  output(now);
  if (ack_now_) send_ack(now);
  announce_deadline();
}

void Connection::syn_sent_arrives(const SegmentIn& seg, time::TimePoint now) {
  TcpCounters& c = owner_.counters();
  // First, the ACK: it must acknowledge our SYN and nothing beyond (RFC 9293 3.10.7.3).
  const bool has_ack = seg.flags.ack;
  if (has_ack && (seg.ack <= iss_ || seg.ack > snd_nxt_)) {
    ++c.bad_syn_sent_ack;
    if (!seg.flags.rst) send_rst(seg.ack);
    return;
  }
  // Second, RST: only one that acknowledges our SYN ends the attempt (RFC 5961 3.2 keeps this).
  if (seg.flags.rst) {
    if (has_ack) {
      ++c.resets_received;
      ++c.attempt_fails;
      finish(ECONNREFUSED);
    }
    return;
  }
  // Fourth, SYN.
  if (!seg.flags.syn) return;
  irs_ = seg.seq;
  rcv_nxt_ = seg.seq + 1;
  rcv_adv_ = rcv_nxt_;
  negotiate(seg.options, true);
  if (has_ack) {
    snd_una_ = seg.ack;
    syn_acked_ = true;
    if (ts_enabled_ && seg.options.timestamps && seg.options.timestamps->echo_reply != 0) {
      rto_.sample_timestamp_echo(std::chrono::milliseconds(
          timestamp_clock(now) - seg.options.timestamps->echo_reply));
    } else if (!syn_timed_out_) {
      rto_.sample_timed_segment(timed_at_, now, false);
    }
    timing_ = false;
    if (syn_timed_out_) rto_.on_data_after_syn_timeout();
    retransmit_count_ = 0;
    retransmit_at_.reset();
    // RFC 7323 2.2: the SYN-ACK's window is not scaled.
    snd_wnd_ = seg.window;
    max_snd_wnd_ = snd_wnd_;
    snd_wl1_ = seg.seq;
    snd_wl2_ = seg.ack;
    enter(State::established);
    restart_keepalive(now);
    ack_now_ = true;
    output(now);  // data queued before the handshake goes now; else the ACK alone
    if (ack_now_) send_ack(now);
    return;
  }
  // Simultaneous open (RFC 9293 3.5, figure 7): SYN-RECEIVED, and a SYN-ACK of our own.
  snd_wnd_ = seg.window;
  max_snd_wnd_ = snd_wnd_;
  snd_wl1_ = seg.seq;
  enter(State::syn_received);
  send_segment(iss_, 0, wire::TcpFlags{.syn = true, .ack = true}, now, true);
}

bool Connection::paws_rejects(const SegmentIn& seg, time::TimePoint now) {
  if (!ts_enabled_ || !seg.options.timestamps || seg.flags.rst) return false;
  const std::uint32_t tsval = seg.options.timestamps->value;
  if (static_cast<std::int32_t>(tsval - ts_recent_) >= 0) return false;
  // RFC 7323 5.5: a TS.Recent older than 24 days is invalid; the segment is then accepted.
  if (now - ts_recent_age_ > std::chrono::hours(24 * 24)) {
    ts_recent_ = tsval;
    ts_recent_age_ = now;
    return false;
  }
  return true;
}

bool Connection::acceptable(const SegmentIn& seg) const {
  // RFC 9293 3.10.7.4's four cases, with the window we last announced (it never shrinks).
  const std::uint32_t len = seg.length();
  const std::uint32_t wnd = rcv_adv_ > rcv_nxt_ ? static_cast<std::uint32_t>(rcv_adv_ - rcv_nxt_) : 0;
  if (len == 0) return wnd == 0 ? seg.seq == rcv_nxt_ : in_window(seg.seq, rcv_nxt_, wnd);
  // A zero window accepts nothing, but the ACK, URG and RST of a segment at RCV.NXT still count
  // ("special allowance should be made"): its text is trimmed away.
  if (wnd == 0) return seg.seq == rcv_nxt_;
  return in_window(seg.seq, rcv_nxt_, wnd) || in_window(seg.seq + (len - 1), rcv_nxt_, wnd);
}

void Connection::trim_to_window(SegmentIn& seg) {
  // Octets before RCV.NXT were received already (a SYN there is the handshake's, long done).
  if (seg.seq < rcv_nxt_) {
    std::uint32_t before = static_cast<std::uint32_t>(rcv_nxt_ - seg.seq);
    if (seg.flags.syn) {
      seg.flags.syn = false;
      --before;
      seg.seq += 1;
    }
    const std::size_t cut = std::min<std::size_t>(before, seg.payload.size());
    seg.payload = seg.payload.subspan(cut);
    seg.seq += static_cast<std::uint32_t>(cut);
  }
  // Octets beyond the right edge of the window are not ours to keep yet.
  const std::uint32_t wnd = rcv_adv_ > rcv_nxt_ ? static_cast<std::uint32_t>(rcv_adv_ - rcv_nxt_) : 0;
  const std::uint32_t offset = static_cast<std::uint32_t>(seg.seq - rcv_nxt_);
  const std::uint32_t room = wnd > offset ? wnd - offset : 0;
  if (seg.payload.size() > room) {
    owner_.counters().data_beyond_window += seg.payload.size() - room;
    seg.payload = seg.payload.first(room);
    seg.flags.fin = false;  // the FIN comes after octets we dropped
    // RFC 9293 3.10.7.4: what is not accepted is acknowledged, so the sender learns the window.
    ack_now_ = true;
  }
}

void Connection::handle_rst(const SegmentIn& seg, time::TimePoint now) {
  TcpCounters& c = owner_.counters();
  // RFC 5961 3.2: only a RST exactly at RCV.NXT resets; one elsewhere in the window may be a blind
  // attack and is answered with a challenge ACK, which a real peer answers with a good RST.
  if (seg.seq != rcv_nxt_) {
    ++c.rst_in_window;
    send_challenge_ack(now);
    return;
  }
  ++c.resets_received;
  switch (state_) {
    case State::syn_received:
      // RFC 9293 3.10.7.4: a passive open goes back to LISTEN (the listener forgets it); an
      // active one (simultaneous open) is refused.
      ++c.attempt_fails;
      finish(ECONNREFUSED);
      return;
    case State::established:
    case State::fin_wait_1:
    case State::fin_wait_2:
    case State::close_wait:
      ++c.established_resets;
      finish(ECONNRESET);
      return;
    default:  // CLOSING, LAST-ACK, TIME-WAIT
      finish(0);
      return;
  }
}

bool Connection::handle_syn(const SegmentIn& seg, time::TimePoint now) {
  (void)seg;
  // RFC 5961 4.2: whatever its sequence number, a SYN in a synchronized state gets a challenge
  // ACK; a peer that really restarted answers it with a RST at RCV.NXT.
  ++owner_.counters().syn_in_window;
  send_challenge_ack(now);
  return false;
}

void Connection::update_timestamp_recent(const SegmentIn& seg) {
  // RFC 7323 4.3 (2): TS.Recent follows the segment that covers Last.ACK.sent.
  if (!ts_enabled_ || !seg.options.timestamps) return;
  const std::uint32_t tsval = seg.options.timestamps->value;
  if (static_cast<std::int32_t>(tsval - ts_recent_) >= 0 && seg.seq <= last_ack_sent_) {
    ts_recent_ = tsval;
    ts_recent_age_ = last_received_;
  }
}

bool Connection::handle_ack(const SegmentIn& seg, time::TimePoint now) {
  TcpCounters& c = owner_.counters();
  if (state_ == State::syn_received) {
    if (!(snd_una_ < seg.ack && seg.ack <= snd_nxt_)) {
      send_rst(seg.ack);  // RFC 9293 3.10.7.4 fifth, SYN-RECEIVED
      return false;
    }
    snd_wnd_ = static_cast<std::uint32_t>(seg.window) << snd_wscale_;
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
    snd_wl1_ = seg.seq;
    snd_wl2_ = seg.ack;
    if (syn_timed_out_) rto_.on_data_after_syn_timeout();
    enter(State::established);
    if (state_ != State::established) return false;  // the owner closed it meanwhile
    restart_keepalive(now);
    if (fin_queued_) enter(State::fin_wait_1);  // CLOSE came while SYN-RECEIVED (3.10.4)
  }
  // RFC 9293 3.10.7.4: "If the ACK acks something not yet sent (SEG.ACK > SND.NXT) then send an
  // ACK, drop the segment". SND.MAX stands for SND.NXT: a timeout may have rewound SND.NXT.
  if (seg.ack > snd_max_) {
    ++c.ack_too_new;
    send_ack(now);
    return false;
  }
  // RFC 5961 5.2: an ACK older than SND.UNA - MAX.SND.WND is likely injected.
  const std::uint32_t max_wnd = std::max<std::uint32_t>(max_snd_wnd_, 1);
  if (seg.ack < snd_una_ - max_wnd) {
    ++c.ack_too_old;
    send_challenge_ack(now);
    return false;
  }
  const bool window_changed =
      (static_cast<std::uint32_t>(seg.window) << snd_wscale_) != snd_wnd_;
  if (scoreboard_ && state_ != State::syn_received) {
    sack_ack(seg, now);  // RFC 6675: the scoreboard decides recovery
  } else if (snd_una_ < seg.ack) {
    new_data_acked(seg, static_cast<std::uint32_t>(seg.ack - snd_una_), now);
  } else if (seg.ack == snd_una_ && seg.payload.empty() && !seg.flags.fin && !window_changed &&
             snd_una_ != snd_max_) {
    // RFC 5681 2: a duplicate acknowledgment.
    duplicate_ack(now);
  }
  update_send_window(seg);
  if (state_ == State::closed) return false;
  if (fin_sent_ && seg.ack == fin_seq_ + 1) our_fin_acked(now);
  if (state_ == State::closed) return false;
  if (state_ == State::time_wait) {
    // Only a retransmitted FIN can arrive: acknowledge it, and restart the 2 MSL wait.
    if (seg.flags.fin) {
      ack_now_ = true;
      time_wait_at_ = now + config_.time_wait;
    }
  }
  return true;
}

void Connection::update_send_window(const SegmentIn& seg) {
  // RFC 9293 3.10.7.4: take the window from the newest segment (SND.WL1, SND.WL2 say which),
  // only if it acknowledges at least SND.UNA (an older ACK would overstate the window).
  if (seg.ack < snd_una_) return;
  if (snd_wl1_ < seg.seq || (snd_wl1_ == seg.seq && snd_wl2_ <= seg.ack)) {
    snd_wnd_ = static_cast<std::uint32_t>(seg.window) << snd_wscale_;
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
    snd_wl1_ = seg.seq;
    snd_wl2_ = seg.ack;
    if (snd_wnd_ > 0) {
      persist_at_.reset();
      persist_backoff_ = 0;
    }
  }
}

void Connection::take_rtt_sample(const SegmentIn& seg, time::TimePoint now) {
  // RFC 7323 4.1: a TSecr counts only on an ACK that acknowledges new data.
  if (ts_enabled_ && seg.options.timestamps && seg.options.timestamps->echo_reply != 0) {
    const std::uint32_t elapsed = timestamp_clock(now) - seg.options.timestamps->echo_reply;
    if (static_cast<std::int32_t>(elapsed) >= 0)
      rto_.sample_timestamp_echo(std::chrono::milliseconds(elapsed));
    return;
  }
  if (timing_ && seg.ack > timed_seq_) {
    rto_.sample_timed_segment(timed_at_, now, retransmitted_since_timed_);
    timing_ = false;
  }
}

void Connection::new_data_acked(const SegmentIn& seg, std::uint32_t acked, time::TimePoint now) {
  const std::uint32_t flight_before = in_flight();
  // The send ring holds data octets only: the SYN and the FIN occupy sequence space, not ring.
  const Seq ring_start = buffer_seq();
  if (seg.ack > ring_start) {
    const auto data_acked = std::min<std::size_t>(static_cast<std::size_t>(seg.ack - ring_start), send_.size());
    send_.drop_front(data_acked);
  }
  snd_una_ = seg.ack;
  syn_acked_ = true;
  if (snd_nxt_ < snd_una_) snd_nxt_ = snd_una_;
  take_rtt_sample(seg, now);
  retransmit_count_ = 0;
  if (cc_->in_recovery()) {
    if (snd_una_ >= recover_) {
      cc_->on_exit_recovery(in_flight(), now);  // RFC 6582 3.2 step 3: a full ACK
      dupacks_ = 0;
    } else {
      // A partial ACK: the next hole is lost too (RFC 6582 3.2 step 3).
      cc_->on_ack({acked, flight_before, now, rto_.has_estimate() ? std::optional(rto_.srtt()) : std::nullopt});
      ++owner_.counters().retransmits_partial_ack;
      retransmit_first(now);
    }
  } else {
    dupacks_ = 0;
    cc_->on_ack({acked, flight_before, now, rto_.has_estimate() ? std::optional(rto_.srtt()) : std::nullopt});
  }
  // RFC 6298 5.2 and 5.3: stop the timer when everything is acknowledged, else restart it.
  if (snd_una_ == snd_max_) retransmit_at_.reset();
  else arm_retransmit(now);
}

void Connection::sack_ack(const SegmentIn& seg, time::TimePoint now) {
  TcpCounters& c = owner_.counters();
  const std::uint32_t flight_before = in_flight();
  const SackUpdate u =
      scoreboard_->update(seg.ack, seg.options.sack_blocks(), snd_max_, &newly_sacked_);
  if (seg.ack >= snd_una_ && scoreboard_->is_sacked(seg.ack)) {
    // The peer acknowledges up to the start of data it had SACKed: it reneged (dropped
    // out-of-order data, as Linux may under memory pressure). Forget the SACKs (RFC 2018 8).
    ++c.sack_reneging;
    scoreboard_->reset(seg.ack);
    newly_sacked_.clear();
    if (rack_) rack_->forget_sacks(now);
  }
  if (u.dsack) ++c.spurious_dsack;  // RFC 2883: the peer got something twice
  // RFC 3042 (limited transmit): the first two duplicate ACKs each let one new segment go past
  // cwnd, so that a small window still produces the duplicate ACKs fast retransmit needs.
  if (u.duplicate_ack && !cc_->in_recovery() && limited_transmit_ < 2 * smss_) limited_transmit_ += smss_;
  if (snd_una_ < seg.ack) {
    limited_transmit_ = 0;
    probe_sent_ = false;
    const std::uint32_t acked = static_cast<std::uint32_t>(seg.ack - snd_una_);
    const Seq ring_start = buffer_seq();
    if (seg.ack > ring_start)
      send_.drop_front(std::min<std::size_t>(static_cast<std::size_t>(seg.ack - ring_start), send_.size()));
    snd_una_ = seg.ack;
    syn_acked_ = true;
    if (snd_nxt_ < snd_una_) snd_nxt_ = snd_una_;
    take_rtt_sample(seg, now);
    retransmit_count_ = 0;
    const std::optional<time::Duration> srtt =
        rto_.has_estimate() ? std::optional(rto_.srtt()) : std::nullopt;
    if (cc_->in_recovery() && (u.recovery_complete || snd_una_ >= recover_)) {
      cc_->on_exit_recovery(in_flight(), now);
      if (rack_) rack_->on_recovery_exit();
    } else {
      cc_->on_ack({acked, flight_before, now, srtt});
    }
    if (snd_una_ == snd_max_) {
      retransmit_at_.reset();
      probe_at_.reset();
    } else {
      arm_retransmit(now);
      arm_tail_loss_probe(now);
    }
  }
  // RFC 8985 6.2: RACK's steps, once the scoreboard knows what this ACK delivered.
  rack_ack(seg, u, now);
  if (u.enter_recovery && !cc_->in_recovery()) {
    enter_sack_recovery(flight_before, now);
  } else if (rack_starts_recovery()) {
    ++c.rack_recoveries;
    enter_sack_recovery(flight_before, now);
  }
}

void Connection::enter_sack_recovery(std::uint32_t flight_before, time::TimePoint now) {
  TcpCounters& c = owner_.counters();
  limited_transmit_ = 0;
  probe_at_.reset();
  // RFC 6675 5 (4): fast retransmit of the first hole, then the pipe governs sending.
  recover_ = snd_max_;
  cc_->on_enter_recovery({flight_before, now, RecoveryMode::kSack});
  ++c.sack_recoveries;
  ++c.retransmits_fast;
  timing_ = false;
  const SackSegment first = scoreboard_->enter_recovery(snd_max_);
  if (first.length() > 0) send_range(first.start, first.end, now, true);
}

void Connection::duplicate_ack(time::TimePoint now) {
  ++dupacks_;
  if (cc_->in_recovery()) {
    cc_->on_duplicate_ack();  // RFC 5681 3.2 step 4: inflate; output() may send new data
    return;
  }
  // RFC 6582 4.1: a new recovery only once SND.UNA has passed the last one's `recover`.
  if (dupacks_ == 3 && snd_una_ > recover_ - 1) {
    recover_ = snd_max_;
    cc_->on_enter_recovery({in_flight(), now, RecoveryMode::kNewReno});
    ++owner_.counters().fast_recoveries;
    ++owner_.counters().retransmits_fast;
    timing_ = false;  // Karn: the timed segment may be the one resent
    retransmit_first(now);
  }
}

void Connection::our_fin_acked(time::TimePoint now) {
  switch (state_) {
    case State::fin_wait_1:
      enter(State::fin_wait_2);
      arm_orphan_timeout(now);
      break;
    case State::closing:
      enter_time_wait(now);
      break;
    case State::last_ack:
      finish(0);
      break;
    default:
      break;
  }
}

void Connection::segment_text(const SegmentIn& seg, time::TimePoint now) {
  TcpCounters& c = owner_.counters();
  if (state_ != State::established && state_ != State::fin_wait_1 && state_ != State::fin_wait_2) {
    return;  // RFC 9293 3.10.7.4 seventh: after the peer's FIN, text "should not occur"; ignore it
  }
  if (application_gone_) {
    // Nobody will read it: Linux resets (tcp_rcv_state_process, data after shutdown).
    ++c.data_after_close;
    send_rst(snd_nxt_);
    finish(0);
    return;
  }
  if (seg.seq == rcv_nxt_) {
    deliver_in_order(seg.payload);
    if (!ooo_.empty()) {
      // Filling a hole: RFC 5681 4.2 asks for an immediate ACK.
      ooo_.take_in_order(rcv_nxt_, [this](std::span<const std::byte> piece) { receive_.append(piece); });
      ack_now_ = true;
    }
    // RFC 1122 4.2.3.2 / RFC 5681 4.2: ACK at least every second full-sized segment, else within
    // the delayed ACK timeout.
    if (++unacked_segments_ < 2) schedule_delayed_ack(now);
    else if (rcv_nxt_ - last_ack_sent_ >= kLargestStretchAck || !owner_.defer_ack(*this)) ack_now_ = true;
    return;
  }
  // Beyond RCV.NXT: keep it for later and say at once what we have (RFC 5681 4.2, RFC 2018 4).
  const AddResult r = ooo_.add(seg.seq, seg.payload, rcv_nxt_);
  if (r.nothing_new()) ++c.duplicate_segments;
  else ++c.out_of_order_segments;
  ack_now_ = true;
}

void Connection::deliver_in_order(std::span<const std::byte> data) {
  const std::size_t n = receive_.append(data);
  rcv_nxt_ += static_cast<std::uint32_t>(n);
  owner_.counters().octets_received += n;
}

void Connection::fin_arrives(time::TimePoint now) {
  // RFC 9293 3.10.7.4 eighth: the FIN takes one sequence number and is acknowledged at once.
  rcv_nxt_ += 1;
  peer_fin_received_ = true;
  ack_now_ = true;
  switch (state_) {
    case State::syn_received:
    case State::established:
      enter(State::close_wait);
      break;
    case State::fin_wait_1:
      enter(State::closing);  // our FIN is not acknowledged yet (else we would be in FIN-WAIT-2)
      break;
    case State::fin_wait_2:
      enter_time_wait(now);
      break;
    default:
      break;
  }
}

void Connection::icmp_unreachable(int error, time::TimePoint now) {
  (void)now;
  ++owner_.counters().icmp_errors;
  // RFC 1122 4.2.3.9: destination unreachable codes 0, 1 and 5 are soft; Linux ends a connection
  // still in SYN-SENT on a hard error (port or protocol unreachable), and keeps the rest as the
  // error a timeout reports.
  if (state_ == State::syn_sent && (error == ECONNREFUSED || error == ENOPROTOOPT)) {
    ++owner_.counters().attempt_fails;
    finish(ECONNREFUSED);
    return;
  }
  soft_error_ = error;
}

void Connection::path_mtu(std::uint16_t mtu, time::TimePoint now) {
  // RFC 1191 7: believe a smaller MTU, and resend at the new size. Not below 552 (Linux's
  // min_pmtu): a forged "fragmentation needed" must not shrink segments to a few octets.
  if (mtu < 552) mtu = 552;
  if (path_mtu_ != 0 && mtu >= path_mtu_) return;
  path_mtu_ = mtu;
  ++owner_.counters().pmtu_updates;
  const std::uint32_t before = smss_;
  recompute_smss();
  if (scoreboard_) scoreboard_->set_smss(smss_);
  if (smss_ < before && snd_una_ != snd_max_) {
    // RFC 1191 does not count this as congestion; resend the first segment at the new size.
    retransmit_first(now);
  }
  announce_deadline();
}

}  // namespace pktd::tcp
