#include "transport/tcp/challenge_ack.h"

#include <array>
#include <cstddef>

namespace pktd::tcp {

ChallengeAckLimiter::ChallengeAckLimiter(ChallengeAckConfig config, SipKey key)
    : config_(config), key_(key) {}

std::uint32_t ChallengeAckLimiter::draw_budget() {
  // SipHash of a counter: unpredictable without the key, which a plain seeded generator whose
  // outputs leak through the observed budgets might not be.
  std::array<std::byte, 8> input{};
  for (std::size_t i = 0; i < input.size(); ++i) input[i] = std::byte(draws_ >> (8 * i));
  ++draws_;
  const std::uint64_t random = siphash24(key_, input);
  const std::uint32_t low = min_budget(config_.limit);
  const std::uint64_t span = std::uint64_t{config_.limit} - low + 1;  // at least 1
  return static_cast<std::uint32_t>(low + random % span);
}

void ChallengeAckLimiter::start_interval(time::TimePoint now) {
  interval_start_ = now;
  budget_ = draw_budget();
  remaining_ = budget_;
}

bool ChallengeAckLimiter::allow(time::TimePoint now) {
  if (!interval_start_ || now - *interval_start_ >= config_.interval) start_interval(now);
  if (remaining_ == 0) {
    ++stats_.suppressed;
    return false;
  }
  --remaining_;
  ++stats_.allowed;
  return true;
}

bool AckIntervalLimiter::allow(time::TimePoint now) {
  if (last_ && now - *last_ < min_interval_) {
    ++stats_.suppressed;
    return false;
  }
  last_ = now;
  ++stats_.allowed;
  return true;
}

bool allow_challenge_ack(AckIntervalLimiter& connection, ChallengeAckLimiter& stack,
                         time::TimePoint now) {
  return connection.allow(now) && stack.allow(now);
}

}  // namespace pktd::tcp
