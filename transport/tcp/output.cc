// What to send and when (RFC 9293 3.8.6, 3.10): the usable window, Nagle (RFC 9293 3.7.4),
// silly-window avoidance on both sides (3.8.6.2), ACKs, the options of each segment.
#include <algorithm>
#include <cerrno>

#include "transport/tcp/connection.h"

namespace pktd::tcp {

std::uint32_t Connection::timestamp_clock(time::TimePoint now) const {
  // RFC 7323 5.4: a clock ticking between 1 ms and 1 s; milliseconds, from a per-connection start.
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  return static_cast<std::uint32_t>(ms) + ts_offset_;
}

Seq Connection::buffer_seq() const {
  // Before our SYN is acknowledged the first data octet is ISS + 1; after, it is SND.UNA (the FIN,
  // once acknowledged, puts SND.UNA one past the data, with the ring empty).
  // (A flag, not SND.UNA == ISS: after 2^32 - 1 octets SND.UNA meets ISS again.)
  return syn_acked_ ? snd_una_ : iss_ + 1;
}

Seq Connection::data_end() const { return buffer_seq() + static_cast<std::uint32_t>(send_.size()); }

std::uint32_t Connection::in_flight() const { return static_cast<std::uint32_t>(snd_max_ - snd_una_); }

std::uint32_t Connection::receive_space() const {
  return receive_limit_ > receive_.size() ? static_cast<std::uint32_t>(receive_limit_ - receive_.size()) : 0;
}

std::uint16_t Connection::window_to_announce() {
  std::uint32_t space = receive_space();
  // RFC 9293 3.8.6.2.2 (receiver SWS avoidance): do not open the window by less than
  // min(buffer / 2, MSS) at a time.
  const std::uint32_t current = rcv_adv_ > rcv_nxt_ ? static_cast<std::uint32_t>(rcv_adv_ - rcv_nxt_) : 0;
  const std::uint32_t step = std::min<std::uint32_t>(static_cast<std::uint32_t>(receive_limit_ / 2), smss_);
  if (space < current + step && space > current) space = current;
  // Never shrink the window already offered (3.8.6.2.2: "SHOULD NOT shrink").
  space = std::max(space, current);
  std::uint32_t field = std::min<std::uint32_t>(space >> rcv_wscale_, 65535);
  const std::uint32_t announced = field << rcv_wscale_;
  rcv_wnd_ = announced;
  if (rcv_nxt_ + announced > rcv_adv_) rcv_adv_ = rcv_nxt_ + announced;
  if (field == 0) ++owner_.counters().zero_windows_sent;
  return static_cast<std::uint16_t>(field);
}

void Connection::fill_options(wire::TcpOptions& o, bool syn, time::TimePoint now) const {
  if (syn) {
    o.mss = config_.mss;
    const bool answering = state_ == State::syn_received;
    // On a SYN-ACK, only what the peer's SYN offered (RFC 7323 2.2, 3.2; RFC 2018 2).
    if (config_.window_scaling && (!answering || wscale_enabled_)) o.window_scale = rcv_wscale_;
    if (config_.sack && (!answering || sack_enabled_)) o.sack_permitted = true;
    if (config_.timestamps && (!answering || ts_enabled_))
      o.timestamps = wire::TcpTimestamps{timestamp_clock(now), answering ? ts_recent_ : 0};
    return;
  }
  if (ts_enabled_) o.timestamps = wire::TcpTimestamps{timestamp_clock(now), ts_recent_};
  if (sack_enabled_ && !ooo_.empty()) {
    // RFC 2018 3: as many blocks as fit beside the other options (3 with timestamps).
    const std::size_t max_blocks = ts_enabled_ ? 3 : 4;
    const SackBlocks blocks = ooo_.sack_blocks(max_blocks);
    for (const auto& b : blocks.span()) o.add_sack_block(b);
  }
}

void Connection::send_segment(Seq seq, std::uint32_t len, wire::TcpFlags flags, time::TimePoint now,
                              bool retransmission) {
  wire::TcpSegment s;
  s.source_port = endpoints_.local_port;
  s.destination_port = endpoints_.remote_port;
  s.sequence_number = seq.value();
  s.flags = flags;
  if (state_ != State::syn_sent || flags.ack) {
    s.flags.ack = true;
    s.acknowledgment_number = rcv_nxt_.value();
  }
  fill_options(s.options, flags.syn, now);
  // RFC 7323 2.2: the window of a SYN or SYN-ACK is never scaled.
  if (flags.syn) {
    s.window = static_cast<std::uint16_t>(std::min<std::size_t>(receive_space(), 65535));
    rcv_wnd_ = s.window;
    if (rcv_nxt_ + rcv_wnd_ > rcv_adv_) rcv_adv_ = rcv_nxt_ + rcv_wnd_;
  } else {
    s.window = window_to_announce();
  }
  if (len > 0) {
    scratch_.resize(len);
    send_.copy_out(static_cast<std::size_t>(seq - buffer_seq()), scratch_);
    s.payload = scratch_;
    if (!retransmission && !ts_enabled_ && !timing_) {
      timing_ = true;  // RFC 6298 3: time one segment per round trip without timestamps
      timed_seq_ = seq;
      timed_at_ = now;
      retransmitted_since_timed_ = false;
    }
  }
  if (retransmission) {
    ++total_retransmits_;
    if (timing_ && seq <= timed_seq_) retransmitted_since_timed_ = true;  // Karn
  }
  rack_note_sent(seq, len, flags, now);
  TcpCounters& c = owner_.counters();
  ++c.segments_sent;
  c.octets_sent += len;
  if (s.flags.ack) {
    last_ack_sent_ = rcv_nxt_;
    ack_now_ = false;
    unacked_segments_ = 0;
    delayed_ack_at_.reset();
  }
  owner_.transmit(*this, s);
}

void Connection::send_ack(time::TimePoint now) {
  if (state_ == State::closed || state_ == State::syn_sent) return;
  send_segment(snd_nxt_, 0, wire::TcpFlags{.ack = true}, now, false);
}

void Connection::send_deferred_ack(time::TimePoint now) {
  // RFC 5681 4.2 asks for an ACK at least every second full-sized segment; a burst handled
  // together is acknowledged once at its end, as Linux does after coalescing it (RFC 5681
  // permits such stretch ACKs and the sender counts bytes, RFC 3465).
  if (unacked_segments_ < 2) return;
  send_ack(now);
  announce_deadline();
}

void Connection::send_challenge_ack(time::TimePoint now) {
  TcpCounters& c = owner_.counters();
  // The connection's own interval first, so that one flooded connection does not spend the
  // budget all connections share.
  if (!challenge_interval_.allow(now) || !owner_.challenge_ack_allowed(now)) {
    ++c.challenge_acks_suppressed;
    return;
  }
  ++c.challenge_acks_sent;
  send_ack(now);
}

void Connection::send_rst(Seq seq) {
  wire::TcpSegment s;
  s.source_port = endpoints_.local_port;
  s.destination_port = endpoints_.remote_port;
  s.sequence_number = seq.value();
  s.flags.rst = true;
  if (is_synchronized()) {
    s.flags.ack = true;
    s.acknowledgment_number = rcv_nxt_.value();
  }
  ++owner_.counters().resets_sent;
  ++owner_.counters().segments_sent;
  owner_.transmit(*this, s);
}

bool Connection::nagle_holds(std::uint32_t len, std::uint32_t unsent) const {
  // RFC 9293 3.7.4 (Nagle): while data is unacknowledged, hold a less-than-full segment until the
  // ACK comes, unless TCP_NODELAY. A segment that carries the last octets before our FIN goes
  // (Linux does the same: nothing more will come to fill it).
  if (len >= smss_ || config_.nodelay || in_flight() == 0) return false;
  if (fin_queued_ && len == unsent) return false;
  return true;
}

bool Connection::send_data_segment(time::TimePoint now, std::optional<std::uint32_t> congestion_room) {
  const Seq end = data_end();
  const std::uint32_t unsent = snd_nxt_ < end ? static_cast<std::uint32_t>(end - snd_nxt_) : 0;
  const bool fin_due = fin_queued_ && snd_nxt_ == end && (!fin_sent_ || snd_nxt_ == fin_seq_);
  if (unsent == 0 && !fin_due) return false;
  const std::uint32_t flight = static_cast<std::uint32_t>(snd_nxt_ - snd_una_);
  const std::uint32_t peer_room = snd_wnd_ > flight ? snd_wnd_ - flight : 0;
  // In SACK recovery the pipe, not SND.NXT - SND.UNA, is what is in the network (RFC 6675 5
  // (C)): SACKed octets have left it. Measured against the flight, a window whose first hole's
  // retransmission was lost again sends nothing more, and with nothing sent after it RACK cannot
  // see that loss: the retransmission timer repairs it.
  const std::uint32_t cwnd = cc_->cwnd() + (snd_nxt_ == snd_max_ ? limited_transmit_ : 0U);
  const std::uint32_t usable =
      std::min(peer_room, congestion_room ? *congestion_room : (cwnd > flight ? cwnd - flight : 0));
  std::uint32_t len = std::min({unsent, smss_, usable});
  if (scoreboard_ && snd_nxt_ < snd_max_) {
    // Going back after a timeout: what the peer SACKed is not sent again.
    const Seq skip_to = scoreboard_->sacked_end(snd_nxt_);
    if (skip_to != snd_nxt_) {
      snd_nxt_ = std::min(skip_to, snd_max_);
      return true;  // look again from there
    }
    if (auto next = scoreboard_->next_sacked_start(snd_nxt_); next && *next < snd_max_)
      len = std::min(len, static_cast<std::uint32_t>(*next - snd_nxt_));
  }
  if (unsent > 0 && len == 0) {
    // No room: the peer's window is shut (persist) or cwnd is full (an ACK will come).
    if (snd_wnd_ == 0 && snd_una_ == snd_max_ && !persist_at_) {
      persist_at_ = now + rto_.rto();
      persist_backoff_ = 0;
    }
    return false;
  }
  if (len < unsent) {
    // RFC 9293 3.8.6.2.1 (sender SWS avoidance): a partial segment only when it is at least
    // half the largest window the peer has offered, or when the override timeout (the persist
    // timer, while nothing is in flight to bring an ACK) says so.
    if (len < smss_ && len < max_snd_wnd_ / 2) {
      if (snd_una_ == snd_max_ && !persist_at_) {
        persist_at_ = now + rto_.rto();
        persist_backoff_ = 0;
      }
      return false;
    }
  } else if (len > 0 && nagle_holds(len, unsent)) {
    return false;
  }
  wire::TcpFlags flags{.ack = true};
  const bool last = len == unsent;
  if (last && len > 0) flags.psh = true;
  if (last && fin_queued_) flags.fin = true;
  const bool retransmission = snd_nxt_ < snd_max_;
  send_segment(snd_nxt_, len, flags, now, retransmission);
  if (flags.fin) {
    fin_sent_ = true;
    fin_seq_ = snd_nxt_ + len;
  }
  snd_nxt_ += len + (flags.fin ? 1U : 0U);
  if (snd_nxt_ > snd_max_) snd_max_ = snd_nxt_;
  if (!retransmit_at_) arm_retransmit(now);
  if (!retransmission) arm_tail_loss_probe(now);
  return true;
}

void Connection::output(time::TimePoint now) {
  if (!is_synchronized() || state_ == State::syn_received || state_ == State::time_wait) return;
  if (scoreboard_ && scoreboard_->in_recovery() && cc_->in_recovery()) {
    sack_output(now);
    return;
  }
  while (send_data_segment(now)) {
  }
}

void Connection::sack_output(time::TimePoint now) {
  // RFC 6675 5 (C): while cwnd - pipe >= 1 SMSS, send what NextSeg() chooses. SetPipe walks the
  // scoreboard once; each segment sent then adds its length (RFC 6675 5 (C.4)), so a peer with
  // many SACK ranges costs one walk per ACK, not one per segment.
  std::uint32_t pipe = rack_pipe();
  for (int budget = 64; budget > 0; --budget) {
    if (cc_->cwnd() < pipe + smss_) return;
    // RFC 8985: what RACK deemed lost goes first (lost retransmissions among it, which NextSeg
    // never picks again: they lie below HighRxt).
    if (const std::uint32_t sent = retransmit_rack_lost(now); sent > 0) {
      pipe += sent;
      continue;
    }
    const Seq end = data_end();
    const std::uint32_t unsent = snd_max_ < end ? static_cast<std::uint32_t>(end - snd_max_) : 0;
    const std::uint32_t flight = in_flight();
    const std::uint32_t window_room = snd_wnd_ > flight ? snd_wnd_ - flight : 0;
    const auto next = scoreboard_->next_seg(snd_max_, std::min(unsent, window_room));
    if (!next) {
      // Nothing to retransmit and no new data NextSeg may send: a FIN still due goes normally.
      if (fin_queued_ && !fin_sent_ && unsent == 0) send_data_segment(now, cc_->cwnd() - pipe);
      return;
    }
    if (next->rule == SackSendRule::kNewData) {
      const Seq before = snd_max_;
      // New data goes the normal way (Nagle, FIN, SND.NXT), within what the pipe leaves.
      if (!send_data_segment(now, cc_->cwnd() - pipe)) return;
      pipe += static_cast<std::uint32_t>(snd_max_ - before);
      continue;
    }
    if (next->rule == SackSendRule::kLost) ++owner_.counters().retransmits_sack;
    send_range(next->start, next->end, now, true);
    scoreboard_->note_sent(*next);
    pipe += next->length();
  }
}

void Connection::send_range(Seq start, Seq end, time::TimePoint now, bool retransmission) {
  // [start, end) may end with our FIN, which is not in the ring.
  const Seq data_stop = std::min(end, data_end());
  const std::uint32_t len = start < data_stop ? static_cast<std::uint32_t>(data_stop - start) : 0;
  wire::TcpFlags flags{.ack = true};
  if (fin_sent_ && end == fin_seq_ + 1) flags.fin = true;
  if (len == 0 && !flags.fin) return;
  send_segment(start, len, flags, now, retransmission);
  if (!retransmit_at_) arm_retransmit(now);
}

void Connection::retransmit_first(time::TimePoint now) {
  if (state_ == State::syn_sent || state_ == State::syn_received) {
    send_segment(iss_, 0, wire::TcpFlags{.syn = true, .ack = state_ == State::syn_received}, now, true);
    return;
  }
  const Seq start = snd_una_;
  const Seq end = data_end();
  const std::uint32_t data = start < end ? static_cast<std::uint32_t>(end - start) : 0;
  const std::uint32_t len = std::min(data, smss_);
  wire::TcpFlags flags{.ack = true};
  if (len == data && fin_sent_) flags.fin = true;
  if (len == 0 && !flags.fin) return;
  if (len > 0) flags.psh = len == data;
  send_segment(start, len, flags, now, true);
  const Seq sent_end = start + len + (flags.fin ? 1U : 0U);
  if (snd_nxt_ < sent_end) snd_nxt_ = sent_end;
}

void Connection::maybe_update_window(time::TimePoint now) {
  if (!is_synchronized() || state_ == State::syn_received || peer_fin_received_) return;
  // RFC 9293 3.8.6.2.2: announce the opening window once it has grown by min(buffer / 2, MSS);
  // Linux waits for twice the MSS or half the buffer. A window that was zero is always worth it.
  const std::uint32_t current = rcv_adv_ > rcv_nxt_ ? static_cast<std::uint32_t>(rcv_adv_ - rcv_nxt_) : 0;
  const std::uint32_t space = receive_space();
  if (space <= current) return;
  const std::uint32_t growth = space - current;
  if (current == 0 || growth >= 2 * smss_ || growth >= receive_limit_ / 2) {
    ++owner_.counters().window_updates;
    send_ack(now);
  }
}

void Connection::autotune_receive(time::TimePoint now) {
  // Receive-buffer auto-tuning (Linux's tcp_rcv_space_adjust, in spirit): when the application
  // reads more than half the buffer within one round trip, the window may be what limits the
  // sender: double the buffer, up to receive_buffer_max.
  if (!config_.receive_autotune || receive_limit_ >= config_.receive_buffer_max) return;
  const time::Duration rtt = rto_.has_estimate() ? rto_.srtt() : std::chrono::milliseconds(100);
  if (now - tune_started_ < rtt) {
    if (consumed_since_tune_ * 2 >= receive_limit_) {
      receive_limit_ = std::min(receive_limit_ * 2, config_.receive_buffer_max);
      if (ooo_.empty()) {  // a queue holding data keeps its limit; a FIN it noted moves over
        const std::optional<Seq> fin = ooo_.fin();
        ooo_ = ReassemblyQueue(receive_limit_);
        if (fin) ooo_.note_fin(*fin);
      }
      consumed_since_tune_ = 0;
      tune_started_ = now;
    }
    return;
  }
  consumed_since_tune_ = 0;
  tune_started_ = now;
}

}  // namespace pktd::tcp
