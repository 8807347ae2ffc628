// One TCP connection: the Transmission Control Block of RFC 9293 3.3.1 and its event processing
// (RFC 9293 3.10), as a pure object. Time is an argument, segments come in as parsed views and go
// out through the Owner, timers are deadlines the owner is told about: nothing here reads a clock,
// sends or sleeps, so tests drive it with a fake clock (tests/unit/tcp_connection_test.cc).
//
// The work is split by concern, as RFC 9293 3.10 splits it:
//   connection.cc  user calls (OPEN, SEND, RECEIVE, CLOSE, ABORT) and state changes
//   input.cc       SEGMENT ARRIVES (3.10.7), with RFC 5961's protections and RFC 7323's PAWS
//   output.cc      what to send and when: windows, Nagle, silly-window avoidance, ACKs, options
//   timers.cc      retransmission (RFC 6298), persist, keepalive, delayed ACK, TIME-WAIT
//   rack_loss.cc   RACK loss detection (RFC 8985 6) beside the SACK scoreboard
//
// Passive opens (LISTEN, the SYN queue, cookies) are the Listener's (listener.h); a connection
// starts from SYN-SENT (connect) or SYN-RECEIVED (a SYN a listener accepted).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "time/clock.h"
#include "transport/tcp/byte_ring.h"
#include "transport/tcp/challenge_ack.h"
#include "transport/tcp/congestion.h"
#include "transport/tcp/counters.h"
#include "transport/tcp/isn.h"
#include "transport/tcp/rack.h"
#include "transport/tcp/reassembly.h"
#include "transport/tcp/rto.h"
#include "transport/tcp/sack_scoreboard.h"
#include "transport/tcp/sequence.h"
#include "wire/tcp.h"

namespace pktd::tcp {

// RFC 9293 3.3.2.
enum class State : std::uint8_t {
  closed,
  listen,
  syn_sent,
  syn_received,
  established,
  fin_wait_1,
  fin_wait_2,
  close_wait,
  closing,
  last_ack,
  time_wait,
};
// The names netstat prints (Linux's: ESTABLISHED, SYN_SENT, TIME_WAIT, ...).
std::string_view state_name(State s);

// What a connection may be tuned with: Linux's defaults and names (sysctl net.ipv4.tcp_*,
// socket options) in comments.
struct ConnectionConfig {
  std::uint16_t mss = 1460;                   // what we announce: the route's MTU - 40
  std::uint16_t user_mss = 0;                 // TCP_MAXSEG: a cap on mss (0: none)
  std::uint8_t ttl = 0;                       // IP_TTL (0: the stack's default)
  std::uint8_t tos = 0;                       // IP_TOS
  std::size_t send_buffer = 4 * 1024 * 1024;  // tcp_wmem[2]: the send ring's limit
  std::size_t receive_buffer = 131072;        // tcp_rmem[1]: where the window starts
  std::size_t receive_buffer_max = 6291456;   // tcp_rmem[2]: how far auto-tuning may take it
  bool receive_autotune = true;               // tcp_moderate_rcvbuf (off once SO_RCVBUF is set)
  std::string congestion = std::string(kDefaultCongestionControl);  // TCP_CONGESTION
  bool nodelay = false;                       // TCP_NODELAY
  bool sack = true;                           // tcp_sack
  bool rack = true;                           // tcp_recovery & 1: RACK loss detection (with SACK)
  bool timestamps = true;                     // tcp_timestamps
  bool window_scaling = true;                 // tcp_window_scaling
  time::Duration time_wait = std::chrono::seconds(60);  // TCP_TIMEWAIT_LEN (2MSL)
  std::uint32_t syn_retries = 6;              // tcp_syn_retries
  std::uint32_t synack_retries = 5;           // tcp_synack_retries
  std::uint32_t retries2 = 15;                // tcp_retries2: data retransmissions before giving up
  time::Duration user_timeout{};              // TCP_USER_TIMEOUT; zero: retries2 decides
  bool keepalive = false;                     // SO_KEEPALIVE
  time::Duration keepalive_idle = std::chrono::seconds(7200);     // TCP_KEEPIDLE
  time::Duration keepalive_interval = std::chrono::seconds(75);   // TCP_KEEPINTVL
  std::uint32_t keepalive_probes = 9;                             // TCP_KEEPCNT
  time::Duration delayed_ack = std::chrono::milliseconds(40);     // Linux's TCP_DELACK_MIN
  RtoConfig rto;
};

// RFC 9293 3.10.7 "segment arrives", already checked by the owner: the checksum verified, the
// data offset sane, the options parsed.
struct SegmentIn {
  Seq seq;
  Seq ack;
  wire::TcpFlags flags;
  std::uint16_t window = 0;  // unscaled, as on the wire
  std::uint16_t urgent_pointer = 0;
  wire::TcpOptions options;
  std::span<const std::byte> payload;

  static SegmentIn from(const wire::TcpView& v, const wire::TcpOptions& options);
  // SEG.LEN: the payload plus one for SYN and one for FIN (RFC 9293 3.4).
  [[nodiscard]] std::uint32_t length() const {
    return static_cast<std::uint32_t>(payload.size()) + (flags.syn ? 1U : 0U) + (flags.fin ? 1U : 0U);
  }
};

class Connection;

// What a connection needs from whoever holds it (the TCP layer, or a test).
class ConnectionOwner {
 public:
  virtual ~ConnectionOwner() = default;
  // Send this segment from c's local end to its remote end. segment.payload is valid only during
  // the call.
  virtual void transmit(Connection& c, const wire::TcpSegment& segment) = 0;
  // c's earliest deadline is now `when`, earlier than any it announced before (or the first):
  // call c.on_timer at or after it. Later deadlines are not announced; on_timer called early
  // does nothing and announces the next one.
  virtual void schedule(Connection& c, time::TimePoint when) = 0;
  // A passive connection reached ESTABLISHED (its listener may hand it out), or any connection
  // reached CLOSED (the owner forgets it once the current call returns).
  virtual void state_changed(Connection& c, State from) = 0;
  // Counters all connections of the owner share.
  virtual TcpCounters& counters() = 0;
  // Whether a challenge ACK (RFC 5961 7) may go out now: the owner rate-limits them globally.
  virtual bool challenge_ack_allowed(time::TimePoint now) = 0;
  // Whether the ACK due for every second full-sized segment may wait for the end of the input
  // batch this segment came in (the owner then calls send_deferred_ack): one ACK for a burst
  // read together, as a receiver with large receive offload sends. false: send it now.
  virtual bool defer_ack(Connection& /*c*/) { return false; }
};

class Connection {
 public:
  Connection(ConnectionOwner& owner, const Endpoints& endpoints, ConnectionConfig config);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // --- opening ---
  // Active OPEN (RFC 9293 3.10.1): sends a SYN with iss. -> SYN-SENT.
  void connect(Seq iss, time::TimePoint now);
  // A SYN a listener took (RFC 9293 3.10.7.2): answers with SYN-ACK from iss. -> SYN-RECEIVED.
  void accept_syn(const SegmentIn& syn, Seq iss, time::TimePoint now);
  // The final ACK of a handshake answered with a SYN cookie: the connection starts ESTABLISHED
  // with what the cookie kept (the peer's MSS class, window scale and SACK-permitted). Its
  // timestamp clock has no per-connection offset (the cookie's TSval was taken from it).
  void accept_cookie(const SegmentIn& ack, Seq iss, std::uint16_t peer_mss,
                     std::optional<std::uint8_t> peer_wscale, bool sack_permitted, time::TimePoint now);

  // The timestamp clock of a connection made from a cookie (RFC 7323 5.4: milliseconds), and the
  // window scale shift a connection with this configuration announces.
  static std::uint32_t cookie_timestamp(time::TimePoint now);
  static std::uint8_t shift_for(const ConnectionConfig& config);

  // --- the segment path ---
  void segment_arrives(const SegmentIn& seg, time::TimePoint now);
  // An ICMP error about this connection (RFC 1122 4.2.3.9, RFC 5927): hard errors end a connection
  // still in SYN-SENT, otherwise they are kept as the soft error reported if it times out.
  void icmp_unreachable(int error, time::TimePoint now);
  // ICMP fragmentation needed (RFC 1191): the path's MTU is mtu.
  void path_mtu(std::uint16_t mtu, time::TimePoint now);

  // The end of an input batch: the ACK defer_ack held back, if nothing has carried it since.
  void send_deferred_ack(time::TimePoint now);

  // --- timers ---
  [[nodiscard]] std::optional<time::TimePoint> next_deadline() const;
  void on_timer(time::TimePoint now);

  // --- the application's side (RFC 9293 3.10.2-3.10.6) ---
  // Octets send may take now.
  [[nodiscard]] std::size_t send_room() const;
  // Queues octets (at most send_room()) and sends what the windows allow. Returns how many taken.
  std::size_t send(std::span<const std::byte> data, time::TimePoint now);
  // In-order octets not yet taken by the application.
  [[nodiscard]] std::span<const std::byte> received() const { return receive_.front(); }
  [[nodiscard]] std::size_t received_size() const { return receive_.size(); }
  // The application took n octets: the window may open (and be announced, RFC 9293 3.8.6.2.2).
  void consume(std::size_t n, time::TimePoint now);
  // The peer's FIN has been received and every octet before it is in received().
  [[nodiscard]] bool peer_finished() const { return peer_fin_received_; }
  // CLOSE (RFC 9293 3.10.4): a FIN after everything queued. Receiving goes on (half-close).
  void close(time::TimePoint now);
  // ABORT (RFC 9293 3.10.5): a RST if synchronized, then CLOSED.
  void abort(time::TimePoint now);
  // The application has gone and will read nothing more: what arrives from now on is answered
  // with a RST (RFC 9293 3.10.7.4 / RFC 1122 4.2.2.13, as Linux does for data on a closed socket).
  void application_gone() { application_gone_ = true; }

  // --- options the application may change while open ---
  void set_nodelay(bool on, time::TimePoint now);
  void set_keepalive(bool on, time::TimePoint now);
  void set_keepalive_times(time::Duration idle, time::Duration interval, std::uint32_t probes,
                           time::TimePoint now);
  void set_user_timeout(time::Duration t) { config_.user_timeout = t; }
  void set_ttl(std::uint8_t ttl) { config_.ttl = ttl; }  // IP_TTL, for segments from now on
  void set_tos(std::uint8_t tos) { config_.tos = tos; }  // IP_TOS
  void set_receive_buffer(std::size_t bytes);  // SO_RCVBUF: fixed, no auto-tuning
  void set_send_buffer(std::size_t bytes);     // SO_SNDBUF
  // false: an unknown algorithm name (ENOENT, as Linux).
  bool set_congestion_control(std::string_view name);

  // --- state ---
  [[nodiscard]] State state() const { return state_; }
  [[nodiscard]] const Endpoints& endpoints() const { return endpoints_; }
  [[nodiscard]] const ConnectionConfig& config() const { return config_; }
  // The error that ended the connection (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE...), 0 if none.
  [[nodiscard]] int error() const { return error_; }
  // Handed out (and cleared) once, as SO_ERROR does.
  int take_error();
  // Established at some point (connect succeeded).
  [[nodiscard]] bool was_established() const { return was_established_; }
  [[nodiscard]] bool is_synchronized() const;
  [[nodiscard]] std::size_t send_queue_size() const { return send_.size(); }   // netstat Send-Q
  [[nodiscard]] std::size_t unsent_size() const;
  [[nodiscard]] std::uint32_t smss() const { return smss_; }
  [[nodiscard]] std::uint32_t cwnd() const { return cc_->cwnd(); }
  [[nodiscard]] std::uint32_t ssthresh() const { return cc_->ssthresh(); }
  [[nodiscard]] std::string_view congestion_control() const { return cc_->name(); }
  [[nodiscard]] const RtoEstimator& rto() const { return rto_; }
  [[nodiscard]] std::uint32_t send_window() const { return snd_wnd_; }
  [[nodiscard]] std::uint32_t receive_window() const { return rcv_wnd_; }
  [[nodiscard]] bool timestamps_enabled() const { return ts_enabled_; }
  [[nodiscard]] bool sack_enabled() const { return sack_enabled_; }
  [[nodiscard]] std::optional<std::uint8_t> send_window_shift() const {
    return wscale_enabled_ ? std::optional<std::uint8_t>(snd_wscale_) : std::nullopt;
  }
  [[nodiscard]] std::uint64_t retransmissions() const { return total_retransmits_; }
  [[nodiscard]] Seq snd_una() const { return snd_una_; }
  [[nodiscard]] Seq snd_nxt() const { return snd_nxt_; }
  [[nodiscard]] Seq rcv_nxt() const { return rcv_nxt_; }
  // The listener a passive connection came from (opaque to the connection), for the owner.
  void* listener_tag = nullptr;

 private:
  friend struct ConnectionInternals;

  // connection.cc
  void enter(State s);
  void finish(int error);  // -> CLOSED, with error (0 for an orderly end)
  void negotiate(const wire::TcpOptions& theirs, bool from_syn);
  void announce_deadline();
  void recompute_smss();
  // input.cc
  void syn_sent_arrives(const SegmentIn& seg, time::TimePoint now);
  bool paws_rejects(const SegmentIn& seg, time::TimePoint now);
  bool acceptable(const SegmentIn& seg) const;
  void trim_to_window(SegmentIn& seg);
  void handle_rst(const SegmentIn& seg, time::TimePoint now);
  bool handle_syn(const SegmentIn& seg, time::TimePoint now);
  bool handle_ack(const SegmentIn& seg, time::TimePoint now);
  void new_data_acked(const SegmentIn& seg, std::uint32_t acked, time::TimePoint now);
  void duplicate_ack(time::TimePoint now);
  void sack_ack(const SegmentIn& seg, time::TimePoint now);
  void update_send_window(const SegmentIn& seg);
  void take_rtt_sample(const SegmentIn& seg, time::TimePoint now);
  void our_fin_acked(time::TimePoint now);
  void segment_text(const SegmentIn& seg, time::TimePoint now);
  void deliver_in_order(std::span<const std::byte> data);
  void fin_arrives(time::TimePoint now);
  void update_timestamp_recent(const SegmentIn& seg);
  // output.cc
  void output(time::TimePoint now);
  // Sends the next new segment (or our FIN) if the windows allow. congestion_room: in SACK
  // recovery, what cwnd - pipe leaves (RFC 6675 5 (C)); otherwise cwnd less what is in flight.
  bool send_data_segment(time::TimePoint now, std::optional<std::uint32_t> congestion_room = {});
  bool nagle_holds(std::uint32_t len, std::uint32_t usable) const;
  void retransmit_first(time::TimePoint now);
  void sack_output(time::TimePoint now);
  void send_range(Seq start, Seq end, time::TimePoint now, bool retransmission);
  void send_segment(Seq seq, std::uint32_t len, wire::TcpFlags flags, time::TimePoint now,
                    bool retransmission);
  void send_ack(time::TimePoint now);
  void send_challenge_ack(time::TimePoint now);
  void send_rst(Seq seq);
  void fill_options(wire::TcpOptions& o, bool syn, time::TimePoint now) const;
  std::uint16_t window_to_announce();
  [[nodiscard]] std::uint32_t receive_space() const;
  void maybe_update_window(time::TimePoint now);
  void autotune_receive(time::TimePoint now);
  [[nodiscard]] std::uint32_t in_flight() const;
  [[nodiscard]] Seq data_end() const;  // the sequence number after the last queued octet
  [[nodiscard]] Seq buffer_seq() const;  // the sequence number of send_'s first octet
  std::uint32_t timestamp_clock(time::TimePoint now) const;
  // timers.cc
  void arm_retransmit(time::TimePoint now);
  void enter_sack_recovery(std::uint32_t flight_before, time::TimePoint now);
  void on_retransmit_timeout(time::TimePoint now);
  void on_persist_timeout(time::TimePoint now);
  void arm_tail_loss_probe(time::TimePoint now);
  void on_tail_loss_probe(time::TimePoint now);
  void on_keepalive_timeout(time::TimePoint now);
  void restart_keepalive(time::TimePoint now);
  void schedule_delayed_ack(time::TimePoint now);
  void enter_time_wait(time::TimePoint now);
  void arm_orphan_timeout(time::TimePoint now);
  bool retries_exhausted(time::TimePoint now) const;
  // rack_loss.cc
  void rack_note_sent(Seq seq, std::uint32_t len, wire::TcpFlags flags, time::TimePoint now);
  [[nodiscard]] std::optional<time::TimePoint> echoed_send_time(const SegmentIn& seg,
                                                                time::TimePoint now) const;
  [[nodiscard]] bool rack_in_recovery() const;
  void rack_ack(const SegmentIn& seg, const SackUpdate& u, time::TimePoint now);
  void rack_detect_loss(time::TimePoint now);
  [[nodiscard]] bool rack_starts_recovery() const;
  void on_rack_timeout(time::TimePoint now);
  [[nodiscard]] std::uint32_t rack_pipe() const;
  std::uint32_t retransmit_rack_lost(time::TimePoint now);  // octets sent, 0 if none

  ConnectionOwner& owner_;
  Endpoints endpoints_;
  ConnectionConfig config_;
  State state_ = State::closed;
  int error_ = 0;
  int soft_error_ = 0;  // an ICMP error kept for a timeout to report (RFC 1122 4.2.3.9)
  bool error_taken_ = false;
  bool was_established_ = false;
  bool application_gone_ = false;

  // RFC 9293 3.3.1, the send sequence variables.
  Seq iss_, snd_una_, snd_nxt_, snd_max_;  // snd_max_: the highest SND.NXT (a timeout rewinds SND.NXT)
  std::uint32_t snd_wnd_ = 0;      // in octets (scaled)
  std::uint32_t max_snd_wnd_ = 0;  // the largest window the peer offered (RFC 5961 5.2, SWS)
  Seq snd_wl1_, snd_wl2_;
  // The receive sequence variables.
  Seq irs_, rcv_nxt_;
  std::uint32_t rcv_wnd_ = 0;  // what the last segment announced, in octets
  Seq rcv_adv_;                // RCV.NXT + RCV.WND as last announced: never shrinks (RFC 9293 3.8.6.2.2)

  // Negotiated options.
  std::uint32_t smss_ = 536;           // RFC 9293 3.7.1: the effective send MSS (options excluded)
  std::uint16_t peer_mss_ = 536;       // RFC 9293 3.7.1 (MUST-15): 536 when the SYN had none
  std::uint16_t path_mtu_ = 0;         // 0: none learnt (RFC 1191)
  bool wscale_enabled_ = false;
  std::uint8_t snd_wscale_ = 0, rcv_wscale_ = 0;
  bool ts_enabled_ = false;
  std::uint32_t ts_recent_ = 0;        // RFC 7323 4.3: TS.Recent
  time::TimePoint ts_recent_age_{};
  Seq last_ack_sent_;
  bool sack_enabled_ = false;
  std::uint32_t ts_offset_ = 0;        // our TSval = ms clock + offset (random per connection)

  // Buffers.
  ByteRing send_;     // octets from SND.UNA (or the first after the SYN) to the last queued
  ByteRing receive_;  // in-order octets for the application
  ReassemblyQueue ooo_;
  std::vector<std::byte> scratch_;  // one segment's payload on its way out
  bool syn_acked_ = false;          // our SYN is acknowledged (SND.UNA passed ISS once)
  bool fin_queued_ = false;         // CLOSE: a FIN goes after the last queued octet
  bool fin_sent_ = false;
  Seq fin_seq_;                     // where our FIN is, once sent
  bool peer_fin_received_ = false;

  // Congestion control, RTT, retransmission.
  std::unique_ptr<CongestionControl> cc_;
  std::unique_ptr<SackScoreboard> scoreboard_;  // with SACK: RFC 6675 loss recovery
  std::unique_ptr<Rack> rack_;                  // with SACK: RFC 8985 6 loss detection
  std::vector<wire::TcpSackBlock> newly_sacked_;  // one ACK's, from the scoreboard to RACK
  std::optional<time::TimePoint> rack_at_;      // RFC 8985 6.2 step 5: the reordering timer
  RtoEstimator rto_;
  std::uint32_t dupacks_ = 0;
  std::uint32_t limited_transmit_ = 0;  // RFC 3042: octets allowed past cwnd by duplicate ACKs
  std::optional<time::TimePoint> probe_at_;  // RFC 8985 7: the tail loss probe
  bool probe_sent_ = false;
  Seq recover_;                 // RFC 6582: SND.MAX when recovery began
  bool timing_ = false;         // a segment is being timed (no timestamps)
  Seq timed_seq_;
  time::TimePoint timed_at_{};
  bool retransmitted_since_timed_ = false;
  std::uint32_t retransmit_count_ = 0;  // consecutive timeouts without progress
  time::TimePoint first_retransmit_at_{};
  std::uint64_t total_retransmits_ = 0;
  bool syn_timed_out_ = false;

  // Receive side ACK policy and auto-tuning.
  std::uint32_t unacked_segments_ = 0;  // full-sized segments received since our last ACK
  bool ack_now_ = false;
  // An ACK deferred to the end of an input batch covers at most this much (what Linux's receive
  // offload merges into one packet): a sender growing its window per ACK still grows.
  static constexpr std::int32_t kLargestStretchAck = 65535;
  std::size_t receive_limit_;           // the receive buffer in use (auto-tuned)
  std::size_t consumed_since_tune_ = 0;
  time::TimePoint tune_started_{};

  // Deadlines (unset: not armed).
  std::optional<time::TimePoint> retransmit_at_, persist_at_, keepalive_at_, delayed_ack_at_,
      time_wait_at_;
  std::uint32_t keepalive_probes_sent_ = 0;
  std::uint32_t persist_backoff_ = 0;
  time::TimePoint last_received_{};
  std::optional<time::TimePoint> announced_deadline_;
  AckIntervalLimiter challenge_interval_;  // RFC 5961 7, this connection's share
};

}  // namespace pktd::tcp
