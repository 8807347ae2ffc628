// Congestion control (RFC 5681 and its successors): the sender's congestion window (cwnd) and slow
// start threshold (ssthresh), one algorithm per file (newreno.h, cubic.h) behind the interface here.
//
// The classes are pure: the connection reports what happened (an ACK of new data, a duplicate ACK,
// a loss found by fast retransmit, the end of recovery, a retransmission timeout) with the time as
// an argument, and reads cwnd() back. Nothing here reads a clock, sends or keeps sequence numbers:
// deciding whether an ACK is a duplicate, partial or full (RFC 6582 3.2) is the connection's job,
// since it holds SND.UNA and `recover`.
//
// What is shared lives in this base class: the initial window, slow start, the loss window after a
// timeout, and the fast recovery bookkeeping of RFC 5681 3.2 / RFC 6582 (or RFC 6675 with SACK).
// An algorithm supplies the rest: how far ssthresh falls on a loss or timeout, and how cwnd grows
// in congestion avoidance.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "time/clock.h"

namespace pktd::tcp {

// RFC 6928 2: IW = min(10*MSS, max(2*MSS, 14600)). pktd uses exactly this; RFC 5681 3.1's smaller
// IW (2 to 4 segments) is what RFC 6928 relaxes.
constexpr std::uint32_t initial_window(std::uint32_t mss) {
  const std::uint32_t ten_segments = 10 * mss;
  const std::uint32_t floor = 2 * mss > 14600 ? 2 * mss : 14600;
  return ten_segments < floor ? ten_segments : floor;
}

// An acknowledgement that advanced SND.UNA, outside recovery or a partial one inside it.
struct AckedData {
  std::uint32_t octets = 0;  // how far SND.UNA advanced
  // FlightSize (RFC 5681 2) when the ACK arrived, before it is applied: data sent and not yet
  // acknowledged. CUBIC uses it to tell whether the window was in use (RFC 9438 5.8).
  std::uint32_t in_flight = 0;
  time::TimePoint now{};
  // The smoothed round-trip time (RFC 6298 SRTT) once there is one; RFC 9438 4.2 looks one RTT
  // ahead with it. Without one, CUBIC looks no further than now.
  std::optional<time::Duration> srtt;
};

// How the connection recovers from a loss found by fast retransmit.
enum class RecoveryMode : std::uint8_t {
  // RFC 5681 3.2 with RFC 6582 NewReno: cwnd is inflated by duplicate ACKs and deflated by partial
  // ACKs so that it tracks what has left the network.
  kNewReno,
  // RFC 6675 with SACK: the pipe estimate governs what may be sent, cwnd stays at ssthresh.
  kSack,
};

// A loss found by fast retransmit (three duplicate ACKs, RFC 5681 3.2 step 2, or RFC 6675's
// IsLost) while not already in recovery.
struct LossEvent {
  std::uint32_t in_flight = 0;  // FlightSize when the loss was found
  time::TimePoint now{};
  RecoveryMode mode = RecoveryMode::kNewReno;
};

class CongestionControl {
 public:
  virtual ~CongestionControl() = default;
  CongestionControl(const CongestionControl&) = delete;
  CongestionControl& operator=(const CongestionControl&) = delete;

  // New data acknowledged. In recovery this is a partial ACK (RFC 6582 3.2 step 3); the ACK that
  // covers `recover` is reported through on_exit_recovery alone.
  void on_ack(const AckedData& ack);
  // A further duplicate ACK during recovery (RFC 5681 3.2 step 4).
  void on_duplicate_ack();
  // Fast retransmit: the algorithm's multiplicative decrease, then recovery begins.
  void on_enter_recovery(const LossEvent& loss);
  // A full ACK (RFC 6582 3.2 step 3) ends recovery; in_flight is FlightSize after that ACK.
  void on_exit_recovery(std::uint32_t in_flight, time::TimePoint now);
  // The retransmission timer expired (RFC 5681 3.1, RFC 6298 5.5); in_flight is FlightSize then.
  void on_timeout(std::uint32_t in_flight, time::TimePoint now);

  [[nodiscard]] std::uint32_t cwnd() const { return cwnd_; }
  [[nodiscard]] std::uint32_t ssthresh() const { return ssthresh_; }
  // RFC 5681 3.1: slow start while cwnd < ssthresh; at equality pktd uses congestion avoidance.
  [[nodiscard]] bool in_slow_start() const { return cwnd_ < ssthresh_; }
  [[nodiscard]] bool in_recovery() const { return in_recovery_; }
  [[nodiscard]] std::uint32_t mss() const { return mss_; }
  [[nodiscard]] virtual std::string_view name() const = 0;

  // The largest cwnd: RFC 7323 2.3 bounds a scaled window at 2^30 octets, so more is never usable.
  static constexpr std::uint32_t kMaxWindow = 1U << 30;

 protected:
  explicit CongestionControl(std::uint32_t mss);

  // The algorithm's multiplicative decrease: ssthresh after a loss found by fast retransmit, and
  // after a retransmission timeout.
  virtual std::uint32_t ssthresh_after_loss(const LossEvent& loss) = 0;
  virtual std::uint32_t ssthresh_after_timeout(std::uint32_t in_flight, time::TimePoint now) = 0;
  // Growth once cwnd >= ssthresh, outside recovery.
  virtual void grow_in_congestion_avoidance(const AckedData& ack) = 0;

  // cwnd with the fraction of an octet that per-ACK growth in floating point leaves over.
  [[nodiscard]] double exact_cwnd() const { return static_cast<double>(cwnd_) + cwnd_fraction_; }
  void set_cwnd(double octets);
  void set_cwnd(std::uint32_t octets);

 private:
  void grow_in_slow_start(const AckedData& ack);
  void deflate_for_partial_ack(std::uint32_t acked);

  std::uint32_t mss_;
  std::uint32_t cwnd_;
  double cwnd_fraction_ = 0;
  // RFC 5681 3.1: "The initial value of ssthresh SHOULD be set arbitrarily high".
  std::uint32_t ssthresh_ = UINT32_MAX;
  bool in_recovery_ = false;
  RecoveryMode recovery_mode_ = RecoveryMode::kNewReno;
  // Set by a timeout, cleared by an ACK of new data: a second timeout before then is for a segment
  // the timer has already retransmitted, and RFC 5681 3.1 holds ssthresh constant for it.
  bool timed_out_without_progress_ = false;
  // RFC 3465 2.3: slow start that follows a timeout counts at most 1*SMSS per ACK.
  bool slow_start_after_timeout_ = false;
};

// The algorithms by the names sockets (TCP_CONGESTION) and the sysctl use.
inline constexpr std::string_view kDefaultCongestionControl = "cubic";
std::span<const std::string_view> congestion_control_names();

// A fresh controller for a connection with this MSS (SMSS, RFC 5681 2), or nullptr for a name that
// is not one of congestion_control_names().
std::unique_ptr<CongestionControl> make_congestion_control(std::string_view name, std::uint32_t mss);

}  // namespace pktd::tcp
