// CUBIC (RFC 9438): in congestion avoidance the window follows a cubic function of the time since
// the last congestion event, concave up to the window where that event happened (W_max), then
// convex beyond it, so that growth is independent of the round-trip time. A Reno-friendly estimate
// keeps it at least as fast as Reno where Reno would do better (short RTT, small windows).
//
// RFC 9438 reckons windows in segments and time in seconds; so does this class internally (as
// doubles), while the interface speaks octets like the rest of the connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "transport/tcp/congestion.h"

namespace pktd::tcp {

class Cubic final : public CongestionControl {
 public:
  static constexpr std::string_view kName = "cubic";

  // RFC 9438 4.1.1's constants: C = 0.4 (segments per second cubed), beta_cubic = 0.7, and the
  // additive factor that gives the same average window as Reno, 4.3's
  // alpha_cubic = 3 * (1 - beta_cubic) / (1 + beta_cubic).
  static constexpr double kC = 0.4;
  static constexpr double kBeta = 0.7;
  static constexpr double kAlpha = 3.0 * (1.0 - kBeta) / (1.0 + kBeta);

  // RFC 9438 4.7: fast convergence is on unless asked otherwise.
  explicit Cubic(std::uint32_t mss, bool fast_convergence = true)
      : CongestionControl(mss), fast_convergence_(fast_convergence) {}
  [[nodiscard]] std::string_view name() const override { return kName; }

  // RFC 9438 4.2 Figure 2: K = cubic_root((W_max - cwnd_epoch) / C), the time in seconds the curve
  // takes from cwnd_epoch back up to W_max.
  [[nodiscard]] static double time_to_reach_w_max(double w_max, double cwnd_epoch);

  // The state of the current congestion avoidance stage, in segments and seconds, for tests and
  // statistics. There is no epoch in slow start and recovery.
  [[nodiscard]] double w_max() const { return w_max_; }
  [[nodiscard]] double k() const { return k_; }
  [[nodiscard]] double w_est() const { return w_est_; }
  [[nodiscard]] double cwnd_prior() const { return cwnd_prior_; }
  [[nodiscard]] std::optional<time::TimePoint> epoch_start() const { return epoch_start_; }
  // RFC 9438 4.2 Figure 1: W_cubic(t) = C * (t - K)^3 + W_max, t seconds into the current epoch.
  [[nodiscard]] double w_cubic(double t) const;

 private:
  std::uint32_t ssthresh_after_loss(const LossEvent& loss) override;
  std::uint32_t ssthresh_after_timeout(std::uint32_t in_flight, time::TimePoint now) override;
  void grow_in_congestion_avoidance(const AckedData& ack) override;

  void begin_epoch(time::TimePoint now);
  [[nodiscard]] bool window_was_in_use(const AckedData& ack) const;
  void update_w_est(double acked, double cwnd);
  [[nodiscard]] double cubic_target(double t_after_next_rtt, double cwnd) const;
  // Records cwnd_prior, ends the epoch, and returns the new ssthresh in segments (4.6).
  [[nodiscard]] double begin_reduction(std::uint32_t in_flight);
  [[nodiscard]] double segments(double octets) const { return octets / mss(); }
  [[nodiscard]] std::uint32_t octets(double segments) const;

  bool fast_convergence_;
  double w_max_ = 0;       // RFC 9438 4.1.2: cwnd just before the last reduction (4.7 may lower it)
  double cwnd_prior_ = 0;  // cwnd when ssthresh was last set (4.1.2)
  double k_ = 0;           // seconds from the epoch's start to W_max (4.2)
  double w_est_ = 0;       // the Reno-friendly estimate (4.3)
  std::optional<time::TimePoint> epoch_start_;
  time::TimePoint last_ack_{};
  // RFC 9438 4.8: the first congestion avoidance stage after a timeout takes K = 0 and
  // W_max = cwnd_epoch.
  bool restarting_after_timeout_ = false;
};

}  // namespace pktd::tcp
