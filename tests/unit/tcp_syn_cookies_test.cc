// SYN cookies (RFC 4987 3.6): what the cookie carries, who can make one, and for how long.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <set>

#include "transport/tcp/syn_cookies.h"

namespace pktd::tcp {
namespace {

using namespace std::chrono_literals;
using time::TimePoint;

const Endpoints kTuple{wire::Ipv4Address::from_octets(192, 0, 2, 1), 80,
                       wire::Ipv4Address::from_octets(198, 51, 100, 7), 50123};
constexpr Seq kPeerIsn(0x1000'0000U);

// The start of clock tick n (64-second ticks).
TimePoint tick(std::int64_t n) { return TimePoint{std::chrono::seconds(64 * n)}; }

SynCookies::Request request(std::uint16_t mss = 1460) {
  SynCookies::Request r;
  r.endpoints = kTuple;
  r.peer_isn = kPeerIsn;
  r.peer_mss = mss;
  return r;
}

TEST(TcpSynCookies, MssIndexIsTheLargestEntryNotAbovePeerMss) {
  EXPECT_EQ(SynCookies::mss_index(100), 0u);  // below every entry: 536 (RFC 9293 3.7.1 default)
  EXPECT_EQ(SynCookies::mss_index(536), 0u);
  EXPECT_EQ(SynCookies::mss_index(1299), 0u);
  EXPECT_EQ(SynCookies::mss_index(1300), 1u);
  EXPECT_EQ(SynCookies::mss_index(1439), 1u);
  EXPECT_EQ(SynCookies::mss_index(1440), 2u);
  EXPECT_EQ(SynCookies::mss_index(1459), 2u);
  EXPECT_EQ(SynCookies::mss_index(1460), 3u);
  EXPECT_EQ(SynCookies::mss_index(9000), 3u);
}

TEST(TcpSynCookies, RoundTripCarriesEachMssClass) {
  SynCookies cookies(SipKey{0x0123456789ABCDEF, 0x0FEDCBA987654321});
  const TimePoint now = tick(1000) + 10s;
  struct Case {
    std::uint16_t peer_mss;
    std::uint16_t expected;
  };
  for (const Case c : {Case{100, 536}, Case{536, 536}, Case{1299, 536}, Case{1300, 1300},
                       Case{1400, 1300}, Case{1440, 1440}, Case{1452, 1440}, Case{1460, 1460},
                       Case{8960, 1460}}) {
    SCOPED_TRACE(c.peer_mss);
    const auto issued = cookies.make(request(c.peer_mss), now);
    EXPECT_EQ(issued.mss, c.expected);
    EXPECT_FALSE(issued.tsval.has_value());
    EXPECT_FALSE(issued.options_recoverable);
    const auto accepted = cookies.check(kTuple, kPeerIsn, issued.isn, std::nullopt, now + 1s);
    ASSERT_TRUE(accepted.has_value());
    EXPECT_EQ(accepted->mss, c.expected);
    // Without timestamps the options are lost: no scaling, no SACK.
    EXPECT_FALSE(accepted->wscale.has_value());
    EXPECT_FALSE(accepted->sack_permitted);
    EXPECT_FALSE(accepted->timestamps);
  }
  EXPECT_EQ(cookies.stats().issued, 9u);
  EXPECT_EQ(cookies.stats().accepted, 9u);
}

TEST(TcpSynCookies, SameSynGivesTheSameCookieWithinATick) {
  // A retransmitted SYN is answered with the same ISN, as a SYN queue entry would be.
  SynCookies cookies(SipKey{1, 2});
  EXPECT_EQ(cookies.make(request(), tick(7)).isn, cookies.make(request(), tick(7) + 63s).isn);
}

TEST(TcpSynCookies, CookieOfAnotherConnectionIsRefused) {
  SynCookies cookies(SipKey{11, 22});
  const TimePoint now = tick(500);
  const Seq cookie = cookies.make(request(), now).isn;
  ASSERT_TRUE(cookies.check(kTuple, kPeerIsn, cookie, std::nullopt, now).has_value());

  Endpoints other = kTuple;
  other.remote_port = 50124;
  EXPECT_FALSE(cookies.check(other, kPeerIsn, cookie, std::nullopt, now).has_value());
  other = kTuple;
  other.local_port = 81;
  EXPECT_FALSE(cookies.check(other, kPeerIsn, cookie, std::nullopt, now).has_value());
  other = kTuple;
  other.remote = wire::Ipv4Address::from_octets(198, 51, 100, 8);
  EXPECT_FALSE(cookies.check(other, kPeerIsn, cookie, std::nullopt, now).has_value());
  other = kTuple;
  other.local = wire::Ipv4Address::from_octets(192, 0, 2, 2);
  EXPECT_FALSE(cookies.check(other, kPeerIsn, cookie, std::nullopt, now).has_value());
  // Another peer ISN: the ACK's SEG.SEQ - 1 must be the SYN's SEG.SEQ.
  EXPECT_FALSE(cookies.check(kTuple, kPeerIsn + 1, cookie, std::nullopt, now).has_value());
  // Another key (another listener or a restarted pktd) knows nothing of it.
  SynCookies stranger(SipKey{11, 23});
  EXPECT_FALSE(stranger.check(kTuple, kPeerIsn, cookie, std::nullopt, now).has_value());
}

TEST(TcpSynCookies, EveryOneBitChangeIsRefused) {
  SynCookies cookies(SipKey{5, 6});
  const TimePoint now = tick(12345) + 30s;
  const Seq cookie = cookies.make(request(), now).isn;
  for (std::uint32_t bit = 0; bit < 32; ++bit) {
    SCOPED_TRACE(bit);
    EXPECT_FALSE(
        cookies.check(kTuple, kPeerIsn, Seq(cookie.value() ^ (1U << bit)), std::nullopt, now));
  }
  // The 4 metadata bits either move the counter (out of the window, or into another tick) or
  // change the MSS index; both land on a MAC mismatch unless the age is already out of range.
  EXPECT_EQ(cookies.stats().refused_bad_mac + cookies.stats().refused_out_of_window, 32u);
  EXPECT_GE(cookies.stats().refused_bad_mac, 28u);  // the MAC bits themselves
}

TEST(TcpSynCookies, AcceptedUpToTwoTicksOldThenExpired) {
  SynCookies cookies(SipKey{9, 9});
  // Made at the very start of tick 1000: valid through the end of tick 1002, 192 s later.
  const Seq early = cookies.make(request(), tick(1000)).isn;
  EXPECT_TRUE(cookies.check(kTuple, kPeerIsn, early, std::nullopt, tick(1000)));
  EXPECT_TRUE(cookies.check(kTuple, kPeerIsn, early, std::nullopt, tick(1001)));
  EXPECT_TRUE(cookies.check(kTuple, kPeerIsn, early, std::nullopt, tick(1003) - 1ns));
  EXPECT_FALSE(cookies.check(kTuple, kPeerIsn, early, std::nullopt, tick(1003)));
  EXPECT_EQ(cookies.stats().refused_out_of_window, 1u);  // age 3: the clock bits alone say so
  // Four ticks on, the 2 clock bits wrap to age 0: the counter is then taken as tick 1004 and
  // the MAC (made with 1000) does not match.
  EXPECT_FALSE(cookies.check(kTuple, kPeerIsn, early, std::nullopt, tick(1004)));
  EXPECT_EQ(cookies.stats().refused_bad_mac, 1u);
  EXPECT_FALSE(cookies.check(kTuple, kPeerIsn, early, std::nullopt, tick(1005) + 5s));
  EXPECT_FALSE(cookies.check(kTuple, kPeerIsn, early, std::nullopt, tick(1006) + 5s));

  // Made at the very end of tick 1000: still at least 128 s of life.
  const TimePoint late_made = tick(1001) - 1ns;
  const Seq late = cookies.make(request(), late_made).isn;
  EXPECT_TRUE(cookies.check(kTuple, kPeerIsn, late, std::nullopt, late_made + 128s));
  EXPECT_FALSE(cookies.check(kTuple, kPeerIsn, late, std::nullopt, tick(1003)));
}

TEST(TcpSynCookies, CookieFromTheFutureIsRefused) {
  // The clock is monotonic, so this only happens with a forged or corrupted cookie: one tick
  // ahead reads as age 3.
  SynCookies cookies(SipKey{9, 9});
  const Seq cookie = cookies.make(request(), tick(2001)).isn;
  EXPECT_FALSE(cookies.check(kTuple, kPeerIsn, cookie, std::nullopt, tick(2000)));
  EXPECT_EQ(cookies.stats().refused_out_of_window, 1u);
}

TEST(TcpSynCookies, RightAfterBootThereIsNoOlderTick) {
  SynCookies cookies(SipKey{3, 3});
  const Seq cookie = cookies.make(request(), tick(0) + 1s).isn;
  EXPECT_TRUE(cookies.check(kTuple, kPeerIsn, cookie, std::nullopt, tick(0) + 2s));
  EXPECT_TRUE(cookies.check(kTuple, kPeerIsn, cookie, std::nullopt, tick(2) + 2s));
  EXPECT_FALSE(cookies.check(kTuple, kPeerIsn, cookie, std::nullopt, tick(4) + 2s));
}

TEST(TcpSynCookies, WindowScaleAndSackRideInTheTimestamp) {
  SynCookies cookies(SipKey{77, 88});
  const TimePoint now = tick(40);
  struct Case {
    std::optional<std::uint8_t> wscale;
    bool sack;
    std::optional<std::uint8_t> expected_wscale;
  };
  const Case cases[] = {
      {std::nullopt, false, std::nullopt}, {std::nullopt, true, std::nullopt},
      {std::uint8_t{0}, false, std::uint8_t{0}}, {std::uint8_t{7}, true, std::uint8_t{7}},
      {std::uint8_t{14}, true, std::uint8_t{14}},
      // RFC 7323 2.3: a shift above 14 is used as 14.
      {std::uint8_t{15}, false, std::uint8_t{14}}, {std::uint8_t{255}, true, std::uint8_t{14}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.wscale.value_or(99) * 10 + c.sack);
    SynCookies::Request r = request(1440);
    r.peer_wscale = c.wscale;
    r.sack_permitted = c.sack;
    r.tsval_now = 0x12345678;
    const auto issued = cookies.make(r, now);
    ASSERT_TRUE(issued.tsval.has_value());
    EXPECT_TRUE(issued.options_recoverable);
    // Never ahead of the clock, at most 31 behind it.
    EXPECT_LE(*issued.tsval, 0x12345678u);
    EXPECT_GT(*issued.tsval, 0x12345678u - 32);
    const auto accepted = cookies.check(kTuple, kPeerIsn, issued.isn, issued.tsval, now + 1s);
    ASSERT_TRUE(accepted.has_value());
    EXPECT_EQ(accepted->mss, 1440);
    EXPECT_EQ(accepted->wscale, c.expected_wscale);
    EXPECT_EQ(accepted->sack_permitted, c.sack);
    EXPECT_TRUE(accepted->timestamps);
  }
}

TEST(TcpSynCookies, TimestampBitsWorkedByHand) {
  SynCookies cookies(SipKey{1, 1});
  SynCookies::Request r = request();
  // 0x12345678 ends in 1 1000 (0x18). Shift 7 with SACK is 1 0111 (0x17): 0x12345677, behind
  // the clock, so kept.
  r.peer_wscale = 7;
  r.sack_permitted = true;
  r.tsval_now = 0x12345678;
  EXPECT_EQ(cookies.make(r, tick(1)).tsval, 0x12345677u);
  // No scaling, SACK: 1 1111 (0x1F) would give 0x1234567F, ahead of the clock: one step of 32
  // back, 0x1234565F.
  r.peer_wscale.reset();
  EXPECT_EQ(cookies.make(r, tick(1)).tsval, 0x1234565Fu);
  // Across the wrap of the timestamp clock: 5 becomes 0x1F - 32 = 0xFFFFFFFF.
  r.tsval_now = 5;
  EXPECT_EQ(cookies.make(r, tick(1)).tsval, 0xFFFFFFFFu);
  // Shift 3, no SACK: 0 0011 on 0x100 (low bits 0): 0x103 is ahead, so 0x103 - 32 = 0xE3.
  r.peer_wscale = 3;
  r.sack_permitted = false;
  r.tsval_now = 0x100;
  EXPECT_EQ(cookies.make(r, tick(1)).tsval, 0xE3u);
}

TEST(TcpSynCookies, OptionsAreLostWithoutTimestamps) {
  SynCookies cookies(SipKey{4, 2});
  SynCookies::Request r = request();
  r.peer_wscale = 9;
  r.sack_permitted = true;  // but no tsval_now: the SYN had no Timestamps option
  const auto issued = cookies.make(r, tick(3));
  EXPECT_FALSE(issued.options_recoverable);  // the SYN-ACK must not offer them
  EXPECT_FALSE(issued.tsval.has_value());
  const auto accepted = cookies.check(kTuple, kPeerIsn, issued.isn, std::nullopt, tick(3));
  ASSERT_TRUE(accepted.has_value());
  EXPECT_FALSE(accepted->wscale.has_value());
  EXPECT_FALSE(accepted->sack_permitted);
}

TEST(TcpSynCookies, RandomForgeriesAreRefused) {
  SynCookies cookies(SipKey{0xDEADBEEF, 0xFEEDFACE});
  const TimePoint now = tick(777) + 20s;
  std::mt19937 rng(12345);
  int accepted = 0;
  constexpr int kTries = 100000;
  for (int i = 0; i < kTries; ++i) {
    // Blind guesses for a connection the attacker knows everything about but the key.
    const Seq guess(static_cast<std::uint32_t>(rng()));
    if (cookies.check(kTuple, kPeerIsn, guess, std::nullopt, now)) ++accepted;
  }
  // 3 of 4 guesses pass the clock bits, then the 28-bit MAC: about 1e5 * 0.75 / 2^28 = 0.0003
  // expected acceptances.
  EXPECT_EQ(accepted, 0);
  EXPECT_EQ(cookies.stats().refused_bad_mac + cookies.stats().refused_out_of_window,
            std::uint64_t{kTries});
  // Roughly a quarter fail on the clock bits alone (mean 25000, sd 137).
  EXPECT_GT(cookies.stats().refused_out_of_window, 23000u);
  EXPECT_LT(cookies.stats().refused_out_of_window, 27000u);
}

TEST(TcpSynCookies, CookiesOfOneListenerShowNoPattern) {
  // The metadata bits are masked per connection: at one instant, with one MSS, 1000 connections
  // spread over all 16 values of the top nibble and give 1000 different ISNs.
  SynCookies cookies(SipKey{21, 12});
  std::set<std::uint32_t> nibbles, isns;
  for (std::uint16_t port = 1000; port < 2000; ++port) {
    SynCookies::Request r = request();
    r.endpoints.remote_port = port;
    const Seq isn = cookies.make(r, tick(99)).isn;
    nibbles.insert(isn.value() >> 28);
    isns.insert(isn.value());
  }
  EXPECT_EQ(nibbles.size(), 16u);
  EXPECT_EQ(isns.size(), 1000u);
}

}  // namespace
}  // namespace pktd::tcp
