// Challenge ACK rate limits (RFC 5961 7): the stack's randomised budget per interval and the
// per-connection minimum interval. Time is a value the tests move by hand.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <vector>

#include "transport/tcp/challenge_ack.h"

namespace pktd::tcp {
namespace {

using namespace std::chrono_literals;
using time::TimePoint;

constexpr SipKey kKey{0xA5A5A5A5, 0x5A5A5A5A};
const TimePoint kT0{1000s};

// How many challenge ACKs go out of n requests made at now.
std::uint32_t drain(ChallengeAckLimiter& limiter, TimePoint now, std::uint32_t n) {
  std::uint32_t allowed = 0;
  for (std::uint32_t i = 0; i < n; ++i) allowed += limiter.allow(now) ? 1U : 0U;
  return allowed;
}

TEST(TcpChallengeAck, DefaultsAreLinuxs) {
  const ChallengeAckLimiter limiter(ChallengeAckConfig{}, kKey);
  EXPECT_EQ(limiter.config().limit, 1000u);
  EXPECT_EQ(limiter.config().interval, 1s);
  EXPECT_EQ(AckIntervalLimiter().min_interval(), 500ms);
  EXPECT_EQ(ChallengeAckLimiter::min_budget(1000), 500u);
  EXPECT_EQ(ChallengeAckLimiter::min_budget(7), 4u);  // ceil(7 / 2)
  EXPECT_EQ(ChallengeAckLimiter::min_budget(1), 1u);
  EXPECT_EQ(ChallengeAckLimiter::min_budget(0), 0u);
}

TEST(TcpChallengeAck, BudgetIsRespectedWithinAnInterval) {
  ChallengeAckLimiter limiter(ChallengeAckConfig{}, kKey);
  const std::uint32_t allowed = drain(limiter, kT0, 2000);
  const std::uint32_t budget = limiter.budget();
  EXPECT_GE(budget, 500u);
  EXPECT_LE(budget, 1000u);
  EXPECT_EQ(allowed, budget);
  EXPECT_EQ(limiter.remaining(), 0u);
  // Later in the same second: nothing more.
  EXPECT_FALSE(limiter.allow(kT0 + 500ms));
  EXPECT_FALSE(limiter.allow(kT0 + 999ms));
  EXPECT_EQ(limiter.stats().allowed, budget);
  EXPECT_EQ(limiter.stats().suppressed, 2000u - budget + 2u);
}

TEST(TcpChallengeAck, RefilledAfterTheInterval) {
  ChallengeAckLimiter limiter(ChallengeAckConfig{}, kKey);
  const std::uint32_t first = drain(limiter, kT0, 1001);
  EXPECT_FALSE(limiter.allow(kT0 + 1s - 1ns));
  EXPECT_TRUE(limiter.allow(kT0 + 1s));
  const std::uint32_t second = 1 + drain(limiter, kT0 + 1s + 1ms, 1001);
  EXPECT_EQ(second, limiter.budget());
  EXPECT_GE(second, 500u);
  EXPECT_LE(second, 1000u);
  EXPECT_EQ(limiter.stats().allowed, std::uint64_t{first} + second);
}

TEST(TcpChallengeAck, IntervalStartsAtTheFirstRequestAfterThePreviousOne) {
  // No timer: an interval starts when a request finds the previous one over, not on a grid.
  ChallengeAckLimiter limiter(ChallengeAckConfig{.limit = 1, .interval = 1s}, kKey);
  EXPECT_TRUE(limiter.allow(kT0 + 500ms));
  EXPECT_FALSE(limiter.allow(kT0 + 1400ms));  // 0.9 s into the interval begun at 0.5 s
  EXPECT_TRUE(limiter.allow(kT0 + 1500ms));
  EXPECT_FALSE(limiter.allow(kT0 + 2499ms));
  EXPECT_TRUE(limiter.allow(kT0 + 7s));       // a long quiet time: one new interval
  EXPECT_FALSE(limiter.allow(kT0 + 7s + 999ms));
}

TEST(TcpChallengeAck, BudgetsAreRandomisedWithinHalfToFullLimit) {
  // CVE-2016-5696: a budget the attacker can count on tells him whether his guess was in window.
  ChallengeAckLimiter limiter(ChallengeAckConfig{}, kKey);
  std::vector<std::uint32_t> budgets;
  for (int second = 0; second < 200; ++second) {
    const TimePoint t = kT0 + std::chrono::seconds(second);
    const std::uint32_t allowed = drain(limiter, t, 1001);
    ASSERT_EQ(allowed, limiter.budget());
    ASSERT_GE(allowed, 500u);
    ASSERT_LE(allowed, 1000u);
    budgets.push_back(allowed);
  }
  // 200 uniform draws from 501 values give about 165 distinct ones (501 * (1 - (500/501)^200)),
  // and a mean near 750 (the standard deviation of the mean is about 10).
  EXPECT_GT(std::set<std::uint32_t>(budgets.begin(), budgets.end()).size(), 140u);
  std::uint64_t sum = 0;
  for (const std::uint32_t b : budgets) sum += b;
  EXPECT_GT(sum / budgets.size(), 700u);
  EXPECT_LT(sum / budgets.size(), 800u);
}

TEST(TcpChallengeAck, BudgetsFollowTheKey) {
  // Repeatable under one key (tests), different under another (every pktd draws its own).
  auto budgets = [](SipKey key) {
    ChallengeAckLimiter limiter(ChallengeAckConfig{}, key);
    std::vector<std::uint32_t> out;
    for (int second = 0; second < 10; ++second) {
      drain(limiter, kT0 + std::chrono::seconds(second), 1);
      out.push_back(limiter.budget());
    }
    return out;
  };
  EXPECT_EQ(budgets(kKey), budgets(kKey));
  EXPECT_NE(budgets(kKey), budgets(SipKey{1, 2}));
}

TEST(TcpChallengeAck, SmallLimits) {
  ChallengeAckLimiter none(ChallengeAckConfig{.limit = 0, .interval = 1s}, kKey);
  EXPECT_FALSE(none.allow(kT0));
  EXPECT_FALSE(none.allow(kT0 + 10s));
  EXPECT_EQ(none.stats().suppressed, 2u);

  ChallengeAckLimiter one(ChallengeAckConfig{.limit = 1, .interval = 1s}, kKey);
  for (int second = 0; second < 20; ++second) {
    EXPECT_EQ(drain(one, kT0 + std::chrono::seconds(second), 5), 1u);
  }

  // limit 2: budgets of 1 or 2, and both occur.
  ChallengeAckLimiter two(ChallengeAckConfig{.limit = 2, .interval = 1s}, kKey);
  std::set<std::uint32_t> seen;
  for (int second = 0; second < 50; ++second) {
    const std::uint32_t allowed = drain(two, kT0 + std::chrono::seconds(second), 5);
    ASSERT_GE(allowed, 1u);
    ASSERT_LE(allowed, 2u);
    seen.insert(allowed);
  }
  EXPECT_EQ(seen, (std::set<std::uint32_t>{1, 2}));
}

TEST(TcpChallengeAck, ConfiguredInterval) {
  // An interval other than a second: at most 10 challenge ACKs in 5 seconds.
  ChallengeAckLimiter limiter(ChallengeAckConfig{.limit = 10, .interval = 5s}, kKey);
  const std::uint32_t first = drain(limiter, kT0, 20);
  EXPECT_GE(first, 5u);
  EXPECT_LE(first, 10u);
  EXPECT_EQ(drain(limiter, kT0 + 4s, 20), 0u);
  EXPECT_GE(drain(limiter, kT0 + 5s, 20), 5u);
}

TEST(TcpAckInterval, AtLeastMinIntervalBetweenAcks) {
  AckIntervalLimiter limiter;  // 500 ms
  EXPECT_TRUE(limiter.allow(kT0));
  EXPECT_EQ(limiter.last_allowed(), kT0);
  EXPECT_FALSE(limiter.allow(kT0 + 1ms));
  EXPECT_FALSE(limiter.allow(kT0 + 500ms - 1ns));
  EXPECT_TRUE(limiter.allow(kT0 + 500ms));
  // Suppressed requests do not push the next one back: 500 ms after the last allowed.
  EXPECT_FALSE(limiter.allow(kT0 + 800ms));
  EXPECT_FALSE(limiter.allow(kT0 + 999ms));
  EXPECT_TRUE(limiter.allow(kT0 + 1000ms));
  EXPECT_EQ(limiter.stats().allowed, 3u);
  EXPECT_EQ(limiter.stats().suppressed, 4u);
}

TEST(TcpAckInterval, ZeroIntervalAllowsEverything) {
  AckIntervalLimiter limiter(0ns);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(limiter.allow(kT0));
  EXPECT_EQ(limiter.stats().suppressed, 0u);
}

TEST(TcpChallengeAck, ConnectionLimitIsAskedFirst) {
  ChallengeAckLimiter stack(ChallengeAckConfig{.limit = 1, .interval = 1s}, kKey);
  AckIntervalLimiter a, b;
  EXPECT_TRUE(allow_challenge_ack(a, stack, kT0));
  // a again within 500 ms: its own limit says no, and the stack's budget is not touched.
  EXPECT_FALSE(allow_challenge_ack(a, stack, kT0 + 100ms));
  EXPECT_EQ(stack.stats().suppressed, 0u);
  // b may, but the stack's budget (1) is spent for this second.
  EXPECT_FALSE(allow_challenge_ack(b, stack, kT0 + 200ms));
  EXPECT_EQ(stack.stats().suppressed, 1u);
  // A second later both limits let a through again.
  EXPECT_TRUE(allow_challenge_ack(a, stack, kT0 + 1s));
  EXPECT_EQ(stack.stats().allowed, 2u);
  EXPECT_EQ(a.stats().allowed, 2u);
  EXPECT_EQ(a.stats().suppressed, 1u);
}

}  // namespace
}  // namespace pktd::tcp
