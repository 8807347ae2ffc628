// Rate limits for challenge ACKs (RFC 5961 7).
//
// RFC 5961 answers a RST whose sequence number is in the window but not exactly RCV.NXT (3.2), any
// SYN in a synchronized state (4.2) and an ACK that acknowledges data not yet sent or long ago
// acknowledged (5.2) with a "challenge ACK" instead of acting on it. RFC 5961 7 recommends
// throttling them, with the number allowed per interval configurable by the administrator, and
// notes that a timestamp and a counter suffice (no timer).
//
// Two limits, as Linux has:
//
// - ChallengeAckLimiter: one for the whole stack, at most `limit` challenge ACKs per interval
//   (Linux tcp_challenge_ack_limit: 1000 per second). A fixed budget shared by all connections is a
//   side channel: an off-path attacker who sends `limit` in-window probes of his own plus one
//   guess, and counts the challenge ACKs he receives, learns whether the guess hit a connection's
//   window (CVE-2016-5696, Cao et al., "Off-Path TCP Exploits", USENIX Security 2016). So each
//   interval's budget is drawn at random in [ceil(limit / 2), limit], from a keyed PRF (SipHash
//   in counter mode) the attacker cannot predict; the configured limit stays a true maximum.
//   Linux 6.0 went further and disabled the global limit by default (tcp_challenge_ack_limit =
//   INT_MAX), keeping only the per-connection one; pktd keeps both, with the randomised budget.
//
// - AckIntervalLimiter: one per connection, at least min_interval between two such ACKs (Linux
//   tcp_invalid_ratelimit: 500 ms, also applied to duplicate ACKs for out-of-window segments). It
//   stops one connection from spending the global budget, and two stacks from ping-ponging ACKs.
//
// Ask the connection's limiter first (allow_challenge_ack below), so a connection that may not
// send anyway does not spend the global budget.
//
// Pure: the time is an argument; stack context only.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "base/siphash.h"
#include "time/clock.h"

namespace pktd::tcp {

struct ChallengeAckConfig {
  // Linux's tcp_challenge_ack_limit before 6.0. 0 sends no challenge ACK at all.
  std::uint32_t limit = 1000;
  // RFC 5961 7 leaves the interval to the administrator; Linux counts per second.
  time::Duration interval = std::chrono::seconds(1);
};

struct RateLimitStats {
  std::uint64_t allowed = 0;
  std::uint64_t suppressed = 0;
};

class ChallengeAckLimiter {
 public:
  // key seeds the budgets' PRF; tests pass a fixed one.
  explicit ChallengeAckLimiter(ChallengeAckConfig config = {}, SipKey key = random_sip_key());

  // Whether one more challenge ACK may be sent at now; counts it if so. An interval begins with
  // the first request at least config.interval after the start of the previous one, so no timer
  // is needed. now never goes backwards.
  [[nodiscard]] bool allow(time::TimePoint now);

  // This interval's budget and what is left of it (tests and pkt netstat).
  [[nodiscard]] std::uint32_t budget() const { return budget_; }
  [[nodiscard]] std::uint32_t remaining() const { return remaining_; }
  [[nodiscard]] const ChallengeAckConfig& config() const { return config_; }
  [[nodiscard]] const RateLimitStats& stats() const { return stats_; }

  // The budget of an interval is in [ceil(limit / 2), limit].
  [[nodiscard]] static std::uint32_t min_budget(std::uint32_t limit) { return limit - limit / 2; }

 private:
  void start_interval(time::TimePoint now);
  [[nodiscard]] std::uint32_t draw_budget();

  ChallengeAckConfig config_;
  SipKey key_;
  std::uint64_t draws_ = 0;  // the PRF's counter
  std::optional<time::TimePoint> interval_start_;
  std::uint32_t budget_ = 0;
  std::uint32_t remaining_ = 0;
  RateLimitStats stats_;
};

class AckIntervalLimiter {
 public:
  // Linux's tcp_invalid_ratelimit.
  static constexpr time::Duration kDefaultMinInterval = std::chrono::milliseconds(500);

  explicit AckIntervalLimiter(time::Duration min_interval = kDefaultMinInterval)
      : min_interval_(min_interval) {}

  // Whether an ACK of this kind may go out at now: the first one may, later ones once
  // min_interval has passed since the last one allowed (a suppressed one does not restart the
  // wait, or a steady stream of triggers would silence the connection for good). now never goes
  // backwards.
  [[nodiscard]] bool allow(time::TimePoint now);

  [[nodiscard]] std::optional<time::TimePoint> last_allowed() const { return last_; }
  [[nodiscard]] time::Duration min_interval() const { return min_interval_; }
  [[nodiscard]] const RateLimitStats& stats() const { return stats_; }

 private:
  time::Duration min_interval_;
  std::optional<time::TimePoint> last_;
  RateLimitStats stats_;
};

// Both limits, the connection's first: whether a challenge ACK (RFC 5961 3.2, 4.2, 5.2) goes out.
[[nodiscard]] bool allow_challenge_ack(AckIntervalLimiter& connection, ChallengeAckLimiter& stack,
                                       time::TimePoint now);

}  // namespace pktd::tcp
