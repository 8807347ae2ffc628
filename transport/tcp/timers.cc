// The connection's timers as deadlines: retransmission (RFC 6298), persist (RFC 9293 3.8.6.1),
// keepalive (RFC 1122 4.2.3.6), delayed ACK (RFC 1122 4.2.3.2), TIME-WAIT (RFC 9293 3.6.1).
#include <algorithm>
#include <cerrno>

#include "transport/tcp/connection.h"

namespace pktd::tcp {

namespace {

void keep_earliest(std::optional<time::TimePoint>& best, const std::optional<time::TimePoint>& t) {
  if (t && (!best || *t < *best)) best = t;
}

bool due(const std::optional<time::TimePoint>& t, time::TimePoint now) { return t && *t <= now; }

// RFC 9293 3.8.6.1: persist probes back off like retransmissions, up to Linux's 120 s.
constexpr std::uint32_t kMaxPersistBackoff = 10;

}  // namespace

std::optional<time::TimePoint> Connection::next_deadline() const {
  std::optional<time::TimePoint> best;
  keep_earliest(best, retransmit_at_);
  keep_earliest(best, persist_at_);
  keep_earliest(best, keepalive_at_);
  keep_earliest(best, delayed_ack_at_);
  keep_earliest(best, time_wait_at_);
  keep_earliest(best, probe_at_);
  keep_earliest(best, rack_at_);
  return best;
}

void Connection::announce_deadline() {
  const auto next = next_deadline();
  if (!next) return;
  if (announced_deadline_ && *announced_deadline_ <= *next) return;
  announced_deadline_ = next;
  owner_.schedule(*this, *next);
}

void Connection::on_timer(time::TimePoint now) {
  announced_deadline_.reset();
  if (due(time_wait_at_, now)) {
    time_wait_at_.reset();
    finish(0);  // 2 MSL have passed (RFC 9293 3.10.8)
    return;
  }
  if (due(probe_at_, now)) on_tail_loss_probe(now);
  if (due(rack_at_, now)) on_rack_timeout(now);
  if (due(retransmit_at_, now)) on_retransmit_timeout(now);
  if (state_ == State::closed) return;
  if (due(persist_at_, now)) on_persist_timeout(now);
  if (state_ == State::closed) return;
  if (due(keepalive_at_, now)) on_keepalive_timeout(now);
  if (state_ == State::closed) return;
  if (due(delayed_ack_at_, now)) {
    delayed_ack_at_.reset();
    ++owner_.counters().delayed_acks;
    send_ack(now);
  }
  announce_deadline();
}

void Connection::arm_retransmit(time::TimePoint now) { retransmit_at_ = now + rto_.rto(); }

bool Connection::retries_exhausted(time::TimePoint now) const {
  // TCP_USER_TIMEOUT, when set, decides alone (RFC 5482; Linux does the same).
  if (config_.user_timeout.count() > 0) {
    return retransmit_count_ > 0 && now - first_retransmit_at_ >= config_.user_timeout;
  }
  switch (state_) {
    case State::syn_sent: return retransmit_count_ >= config_.syn_retries;
    case State::syn_received: return retransmit_count_ >= config_.synack_retries;
    default: return retransmit_count_ >= config_.retries2;
  }
}

void Connection::on_retransmit_timeout(time::TimePoint now) {
  retransmit_at_.reset();
  if (snd_una_ == snd_max_ && state_ != State::syn_sent && state_ != State::syn_received) return;
  TcpCounters& c = owner_.counters();
  if (retries_exhausted(now)) {
    // RFC 1122 4.2.3.5 (R2): give up; an ICMP error seen meanwhile says why (Linux reports it).
    ++c.timeouts_dropped;
    if (state_ == State::syn_sent) ++c.attempt_fails;
    finish(soft_error_ != 0 ? soft_error_ : ETIMEDOUT);
    return;
  }
  ++c.timeouts;
  if (retransmit_count_ == 0) first_retransmit_at_ = now;
  ++retransmit_count_;
  rto_.on_timeout();  // RFC 6298 5.5: back off
  timing_ = false;    // Karn: no sample from what is resent
  if (state_ == State::syn_sent || state_ == State::syn_received) {
    syn_timed_out_ = true;
    ++c.retransmits_syn;
    retransmit_first(now);
    arm_retransmit(now);
    return;
  }
  // RFC 5681 3.1 and RFC 6582 4: ssthresh falls, cwnd is one segment, and everything
  // outstanding is sent again from SND.UNA (recovery ends; `recover` marks where it stood).
  cc_->on_timeout(in_flight(), now);
  if (scoreboard_) scoreboard_->on_retransmission_timeout_keeping_sacks(snd_max_);
  dupacks_ = 0;
  recover_ = snd_max_;
  rack_at_.reset();  // go-back-N sends everything again, with new times
  snd_nxt_ = snd_una_;
  ++c.retransmits_timeout;
  retransmit_first(now);
  arm_retransmit(now);  // RFC 6298 5.6: with the backed-off RTO
}

void Connection::arm_tail_loss_probe(time::TimePoint now) {
  // RFC 8985 7.2: PTO = 2 * SRTT (plus the peer's delayed ACK time when one segment is out),
  // never past the retransmission timer; only with SACK, which tells what the probe revealed.
  if (!scoreboard_ || probe_sent_ || !rto_.has_estimate() || cc_->in_recovery()) return;
  time::Duration pto = 2 * rto_.srtt();
  if (in_flight() <= smss_) pto += config_.delayed_ack * 5;  // RFC 8985's WCDelAckT, 200 ms
  pto = std::max<time::Duration>(pto, std::chrono::milliseconds(10));
  if (retransmit_at_ && now + pto >= *retransmit_at_) return;
  probe_at_ = now + pto;
}

void Connection::on_tail_loss_probe(time::TimePoint now) {
  probe_at_.reset();
  if (snd_una_ == snd_max_ || cc_->in_recovery() || probe_sent_) return;
  // RFC 8985 7.3: new data if the windows allow one segment, else the last segment sent again;
  // either way the peer's SACK says what was lost, and recovery starts without a timeout.
  probe_sent_ = true;
  ++owner_.counters().tail_loss_probes;
  const std::uint32_t unsent = static_cast<std::uint32_t>(unsent_size());
  if (unsent > 0 && snd_nxt_ == snd_max_ && snd_wnd_ > in_flight()) {
    const std::uint32_t len = std::min({unsent, smss_, snd_wnd_ - in_flight()});
    send_segment(snd_nxt_, len, wire::TcpFlags{.psh = true, .ack = true}, now, false);
    snd_nxt_ += len;
    snd_max_ = snd_nxt_;
    return;
  }
  const Seq end = snd_max_;
  const Seq start = end - std::min<std::uint32_t>(smss_, in_flight());
  send_range(start, end, now, true);
}

void Connection::on_persist_timeout(time::TimePoint now) {
  persist_at_.reset();
  if (unsent_size() == 0 || snd_una_ != snd_max_) return;
  if (snd_wnd_ != 0) {
    // The SWS override (RFC 9293 3.8.6.2.1): send what the small window takes.
    const std::uint32_t len = std::min({static_cast<std::uint32_t>(unsent_size()), snd_wnd_, smss_});
    wire::TcpFlags flags{.psh = true, .ack = true};
    send_segment(snd_nxt_, len, flags, now, false);
    snd_nxt_ += len;
    if (snd_nxt_ > snd_max_) snd_max_ = snd_nxt_;
    arm_retransmit(now);
    return;
  }
  // RFC 9293 3.8.6.1: probe the zero window. Like Linux, with a segment the peer has already
  // acknowledged (SEQ = SND.UNA - 1, no data): it answers with an ACK that carries its window,
  // and nothing is lost if the probe is.
  ++owner_.counters().persist_probes;
  // A peer that answers probes is alive however long its window stays shut; one that has said
  // nothing through the longest backoff for twice the largest RTO is gone.
  // Without an application (an orphan), Linux gives up after tcp_orphan_retries (8) probes.
  if (application_gone_ && persist_backoff_ >= 8) {
    ++owner_.counters().orphans_dropped;
    abort(now);
    return;
  }
  if (persist_backoff_ >= kMaxPersistBackoff && now - last_received_ > 2 * config_.rto.maximum) {
    ++owner_.counters().timeouts_dropped;
    finish(ETIMEDOUT);
    return;
  }
  wire::TcpFlags flags{.ack = true};
  send_segment(snd_una_ - 1, 0, flags, now, false);
  persist_backoff_ = std::min(persist_backoff_ + 1, kMaxPersistBackoff);
  time::Duration wait = rto_.rto() * (1U << persist_backoff_);
  wait = std::min<time::Duration>(wait, config_.rto.maximum);
  persist_at_ = now + wait;
}

void Connection::restart_keepalive(time::TimePoint now) {
  if (!config_.keepalive || !is_synchronized() || state_ == State::time_wait) {
    keepalive_at_.reset();
    return;
  }
  keepalive_at_ = now + config_.keepalive_idle;
}

void Connection::on_keepalive_timeout(time::TimePoint now) {
  keepalive_at_.reset();
  if (!config_.keepalive) return;
  if (state_ != State::established && state_ != State::close_wait && state_ != State::fin_wait_2) return;
  // RFC 1122 4.2.3.6: probe an idle connection; after keepalive_probes unanswered, it is dead.
  if (keepalive_probes_sent_ >= config_.keepalive_probes) {
    ++owner_.counters().keepalive_timeouts;
    finish(soft_error_ != 0 ? soft_error_ : ETIMEDOUT);
    return;
  }
  ++keepalive_probes_sent_;
  ++owner_.counters().keepalive_probes;
  // SEG.SEQ = SND.NXT - 1 with no data (RFC 1122 4.2.3.6), which the peer must acknowledge.
  send_segment(snd_nxt_ - 1, 0, wire::TcpFlags{.ack = true}, now, false);
  keepalive_at_ = now + config_.keepalive_interval;
}

void Connection::schedule_delayed_ack(time::TimePoint now) {
  if (!delayed_ack_at_) delayed_ack_at_ = now + config_.delayed_ack;
}

void Connection::arm_orphan_timeout(time::TimePoint now) {
  // Linux's tcp_fin_timeout (60 s): a FIN-WAIT-2 connection nobody will read from does not wait
  // for the peer's FIN forever (RFC 9293 sets no limit; a peer that never closes would pin it).
  if (state_ == State::fin_wait_2 && application_gone_ && !time_wait_at_) time_wait_at_ = now + config_.time_wait;
}

void Connection::enter_time_wait(time::TimePoint now) {
  enter(State::time_wait);
  retransmit_at_.reset();
  persist_at_.reset();
  keepalive_at_.reset();
  delayed_ack_at_.reset();
  rack_at_.reset();
  send_.clear();
  time_wait_at_ = now + config_.time_wait;
}

}  // namespace pktd::tcp
