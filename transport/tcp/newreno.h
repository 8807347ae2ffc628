// NewReno (RFC 5681 with RFC 6582's fast recovery): on a loss ssthresh falls to half of what was in
// flight, and congestion avoidance adds one segment per round trip.
#pragma once

#include <cstdint>
#include <string_view>

#include "transport/tcp/congestion.h"

namespace pktd::tcp {

class NewReno final : public CongestionControl {
 public:
  static constexpr std::string_view kName = "newreno";

  explicit NewReno(std::uint32_t mss) : CongestionControl(mss) {}
  [[nodiscard]] std::string_view name() const override { return kName; }

 private:
  std::uint32_t ssthresh_after_loss(const LossEvent& loss) override;
  std::uint32_t ssthresh_after_timeout(std::uint32_t in_flight, time::TimePoint now) override;
  void grow_in_congestion_avoidance(const AckedData& ack) override;
  [[nodiscard]] std::uint32_t half_the_flight(std::uint32_t in_flight);

  // RFC 3465 2.1's bytes_acked: octets acknowledged since cwnd last grew in congestion avoidance.
  std::uint64_t acked_since_growth_ = 0;
};

}  // namespace pktd::tcp
