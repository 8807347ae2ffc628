// The user calls of RFC 9293 3.10 (OPEN, SEND, RECEIVE, CLOSE, ABORT), option negotiation and
// state changes.
#include "transport/tcp/connection.h"

#include <cerrno>

namespace pktd::tcp {

std::string_view state_name(State s) {
  switch (s) {
    case State::closed: return "CLOSE";
    case State::listen: return "LISTEN";
    case State::syn_sent: return "SYN_SENT";
    case State::syn_received: return "SYN_RECV";
    case State::established: return "ESTABLISHED";
    case State::fin_wait_1: return "FIN_WAIT1";
    case State::fin_wait_2: return "FIN_WAIT2";
    case State::close_wait: return "CLOSE_WAIT";
    case State::closing: return "CLOSING";
    case State::last_ack: return "LAST_ACK";
    case State::time_wait: return "TIME_WAIT";
  }
  return "?";
}

SegmentIn SegmentIn::from(const wire::TcpView& v, const wire::TcpOptions& options) {
  SegmentIn s;
  s.seq = Seq(v.sequence_number());
  s.ack = Seq(v.acknowledgment_number());
  s.flags = v.flags();
  s.window = v.window();
  s.urgent_pointer = v.urgent_pointer();
  s.options = options;
  s.payload = v.payload();
  return s;
}

namespace {

// Octets the receive ring may hold at most: the window never announces more than the receive
// limit, so the ring never refuses what arrives within it; the margin covers a limit lowered
// while data announced under the old one is on its way.
std::size_t ring_limit(const ConnectionConfig& c) { return 2 * c.receive_buffer_max + 65536; }

}  // namespace

Connection::Connection(ConnectionOwner& owner, const Endpoints& endpoints, ConnectionConfig config)
    : owner_(owner),
      endpoints_(endpoints),
      config_(std::move(config)),
      send_(config_.send_buffer),
      receive_(ring_limit(config_)),
      ooo_(config_.receive_buffer),
      rto_(config_.rto),
      receive_limit_(config_.receive_buffer) {
  if (config_.receive_buffer_max < config_.receive_buffer) config_.receive_buffer_max = config_.receive_buffer;
  cc_ = make_congestion_control(config_.congestion, config_.mss);
  if (!cc_) cc_ = make_congestion_control(kDefaultCongestionControl, config_.mss);
  if (config_.window_scaling) rcv_wscale_ = shift_for(config_);
  smss_ = config_.mss;
}

Connection::~Connection() = default;

std::uint8_t Connection::shift_for(const ConnectionConfig& config) {
  // RFC 7323 2.3: the smallest shift that lets the largest receive buffer be announced.
  std::uint8_t shift = 0;
  while (shift < wire::tcp_option::kMaxWindowScale && (config.receive_buffer_max >> shift) > 65535) ++shift;
  return shift;
}

std::uint32_t Connection::cookie_timestamp(time::TimePoint now) {
  return static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
}

bool Connection::is_synchronized() const {
  return state_ != State::closed && state_ != State::listen && state_ != State::syn_sent;
}

void Connection::enter(State s) {
  const State from = state_;
  if (from == s) return;
  state_ = s;
  TcpCounters& c = owner_.counters();
  if (s == State::established && !was_established_) {
    was_established_ = true;
    ++c.connections_established;
  }
  if (s == State::closed) {
    ++c.connections_closed;
    retransmit_at_.reset();
    persist_at_.reset();
    keepalive_at_.reset();
    delayed_ack_at_.reset();
    time_wait_at_.reset();
    probe_at_.reset();
    rack_at_.reset();
    send_.clear();
    ooo_.clear();
  }
  owner_.state_changed(*this, from);
}

void Connection::finish(int error) {
  if (error != 0 && error_ == 0) error_ = error;
  enter(State::closed);
}

int Connection::take_error() {
  if (error_taken_) return 0;
  if (error_ == 0) {
    // SO_ERROR also reports a soft error (an ICMP one) once, as Linux's sk_err_soft is not: keep
    // to Linux and report only what ended the connection.
    return 0;
  }
  error_taken_ = true;
  return error_;
}

void Connection::recompute_smss() {
  // RFC 9293 3.7.1: Eff.snd.MSS = min(SendMSS + 20, MMS_S) - TCPhdrsize - IPoptionsize, with the
  // fixed-size options we put on every segment (timestamps: 12 octets) counted in the header.
  std::uint32_t mss = std::min<std::uint32_t>(peer_mss_, config_.mss);
  if (path_mtu_ != 0 && path_mtu_ > 40) mss = std::min<std::uint32_t>(mss, path_mtu_ - 40U);
  if (ts_enabled_) mss -= 12;
  smss_ = std::max<std::uint32_t>(mss, 64);  // Linux's floor (tcp_min_snd_mss 48 + options)
}

void Connection::negotiate(const wire::TcpOptions& theirs, bool from_syn) {
  if (!from_syn) return;
  // RFC 9293 3.7.1 (MUST-15): without an MSS option, assume 536.
  peer_mss_ = theirs.mss.value_or(536);
  if (peer_mss_ < 64) peer_mss_ = 64;
  // RFC 7323 2.2: window scaling only when both SYNs carried the option.
  wscale_enabled_ = config_.window_scaling && theirs.window_scale.has_value();
  if (wscale_enabled_) {
    snd_wscale_ = *theirs.effective_window_scale();
  } else {
    snd_wscale_ = 0;
    rcv_wscale_ = 0;
  }
  // RFC 2018 2 and RFC 7323 3.2: both also only when both SYNs carried them.
  sack_enabled_ = config_.sack && theirs.sack_permitted;
  ts_enabled_ = config_.timestamps && theirs.timestamps.has_value();
  if (ts_enabled_) {
    ts_recent_ = theirs.timestamps->value;
    ts_recent_age_ = last_received_;
  }
  recompute_smss();
  cc_ = make_congestion_control(cc_->name(), smss_);
  if (sack_enabled_) {
    scoreboard_ = std::make_unique<SackScoreboard>(SackScoreboardConfig{.smss = smss_}, iss_ + 1);
    if (config_.rack) rack_ = std::make_unique<Rack>();
  }
}

void Connection::connect(Seq iss, time::TimePoint now) {
  iss_ = iss;
  snd_una_ = iss;
  snd_nxt_ = iss;
  snd_max_ = iss;
  recover_ = iss;
  ts_offset_ = iss.value() * 2654435761U;  // a per-connection start (RFC 7323 5.4)
  enter(State::syn_sent);
  ++owner_.counters().active_opens;
  send_segment(iss_, 0, wire::TcpFlags{.syn = true}, now, false);
  snd_nxt_ = snd_max_ = iss_ + 1;  // the SYN takes one sequence number
  arm_retransmit(now);
  announce_deadline();
}

void Connection::accept_syn(const SegmentIn& syn, Seq iss, time::TimePoint now) {
  iss_ = iss;
  snd_una_ = iss;
  snd_nxt_ = iss;
  snd_max_ = iss;
  recover_ = iss;
  ts_offset_ = iss.value() * 2654435761U;
  irs_ = syn.seq;
  rcv_nxt_ = syn.seq + 1;
  rcv_adv_ = rcv_nxt_;
  last_received_ = now;
  negotiate(syn.options, true);
  // RFC 7323 2.2: the window in a SYN is never scaled.
  snd_wnd_ = syn.window;
  max_snd_wnd_ = snd_wnd_;
  snd_wl1_ = syn.seq;
  snd_wl2_ = iss;
  last_received_ = now;
  enter(State::syn_received);
  ++owner_.counters().passive_opens;
  send_segment(iss_, 0, wire::TcpFlags{.syn = true, .ack = true}, now, false);
  snd_nxt_ = snd_max_ = iss_ + 1;
  arm_retransmit(now);
  announce_deadline();
}

void Connection::accept_cookie(const SegmentIn& ack, Seq iss, std::uint16_t peer_mss,
                               std::optional<std::uint8_t> peer_wscale, bool sack_permitted,
                               time::TimePoint now) {
  wire::TcpOptions theirs;
  theirs.mss = peer_mss;
  theirs.window_scale = peer_wscale;
  theirs.sack_permitted = sack_permitted;
  if (ack.options.timestamps) theirs.timestamps = wire::TcpTimestamps{ack.options.timestamps->value, 0};
  iss_ = iss;
  snd_una_ = iss + 1;
  snd_nxt_ = iss + 1;
  snd_max_ = iss + 1;
  syn_acked_ = true;
  recover_ = iss + 1;
  ts_offset_ = 0;
  irs_ = ack.seq - 1;
  rcv_nxt_ = ack.seq;
  // The window our cookie SYN-ACK announced (unscaled, RFC 7323 2.2): data may already be in
  // flight within it.
  rcv_adv_ = rcv_nxt_ + static_cast<std::uint32_t>(std::min<std::size_t>(config_.receive_buffer, 65535));
  if (!peer_wscale) rcv_wscale_ = 0;
  last_received_ = now;
  negotiate(theirs, true);
  snd_wnd_ = static_cast<std::uint32_t>(ack.window) << snd_wscale_;
  max_snd_wnd_ = snd_wnd_;
  snd_wl1_ = ack.seq;
  snd_wl2_ = ack.ack;
  last_received_ = now;
  ++owner_.counters().passive_opens;
  enter(State::established);
  restart_keepalive(now);
  if (!ack.payload.empty() || ack.flags.fin) segment_arrives(ack, now);
  announce_deadline();
}

std::size_t Connection::send_room() const {
  if (fin_queued_ || state_ == State::closed) return 0;
  if (state_ != State::established && state_ != State::close_wait && state_ != State::syn_sent &&
      state_ != State::syn_received)
    return 0;
  return send_.room();
}

std::size_t Connection::send(std::span<const std::byte> data, time::TimePoint now) {
  if (send_room() == 0) return 0;
  std::size_t n = send_.append(data);
  output(now);
  announce_deadline();
  return n;
}

std::size_t Connection::unsent_size() const {
  Seq end = data_end();
  return snd_nxt_ < end ? static_cast<std::size_t>(end - snd_nxt_) : 0;
}

void Connection::consume(std::size_t n, time::TimePoint now) {
  receive_.drop_front(n);
  consumed_since_tune_ += n;
  autotune_receive(now);
  maybe_update_window(now);
  announce_deadline();
}

void Connection::close(time::TimePoint now) {
  // RFC 1122 4.2.2.13 (and Linux): closing with data the application never read aborts, so the
  // peer learns that its data was not consumed.
  if (application_gone_ && receive_.size() > 0 && is_synchronized()) {
    abort(now);
    return;
  }
  arm_orphan_timeout(now);
  switch (state_) {
    case State::syn_sent:
      finish(0);  // RFC 9293 3.10.4: delete the TCB
      return;
    case State::syn_received:
      fin_queued_ = true;  // the FIN goes once ESTABLISHED (3.10.4)
      return;
    case State::established:
      fin_queued_ = true;
      enter(State::fin_wait_1);
      break;
    case State::close_wait:
      fin_queued_ = true;
      enter(State::last_ack);
      break;
    default:
      return;  // already closing
  }
  output(now);
  announce_deadline();
}

void Connection::abort(time::TimePoint now) {
  (void)now;
  switch (state_) {
    case State::syn_received:
    case State::established:
    case State::fin_wait_1:
    case State::fin_wait_2:
    case State::close_wait:
      // RFC 9293 3.10.5: <SEQ=SND.NXT><CTL=RST>; with an ACK, as Linux sends it.
      send_rst(snd_nxt_);
      break;
    default:
      break;
  }
  receive_.clear();
  finish(0);
}

void Connection::set_nodelay(bool on, time::TimePoint now) {
  config_.nodelay = on;
  if (on) {
    output(now);  // Linux pushes what Nagle was holding
    announce_deadline();
  }
}

void Connection::set_keepalive(bool on, time::TimePoint now) {
  config_.keepalive = on;
  if (on) restart_keepalive(now);
  else keepalive_at_.reset();
  announce_deadline();
}

void Connection::set_keepalive_times(time::Duration idle, time::Duration interval, std::uint32_t probes,
                                     time::TimePoint now) {
  config_.keepalive_idle = idle;
  config_.keepalive_interval = interval;
  config_.keepalive_probes = probes;
  if (config_.keepalive) restart_keepalive(now);
  announce_deadline();
}

void Connection::set_receive_buffer(std::size_t bytes) {
  config_.receive_autotune = false;
  config_.receive_buffer = bytes;
  if (config_.receive_buffer_max < bytes) config_.receive_buffer_max = bytes;
  receive_limit_ = bytes;
}

void Connection::set_send_buffer(std::size_t bytes) {
  config_.send_buffer = bytes;
  send_.set_limit(bytes);
}

bool Connection::set_congestion_control(std::string_view name) {
  auto fresh = make_congestion_control(name, smss_);
  if (!fresh) return false;
  config_.congestion = std::string(name);
  cc_ = std::move(fresh);
  return true;
}

}  // namespace pktd::tcp
