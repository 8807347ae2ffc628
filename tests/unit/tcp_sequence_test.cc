// Sequence arithmetic (RFC 9293 3.4) and initial sequence numbers (RFC 6528).
#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "transport/tcp/isn.h"
#include "transport/tcp/sequence.h"

namespace pktd::tcp {
namespace {

using namespace std::chrono_literals;

TEST(TcpSeq, ComparisonsHoldAcrossTheWrap) {
  Seq before(0xFFFFFFF0U), after = before + 0x20;  // after wrapped to 0x10
  EXPECT_EQ(after.value(), 0x10U);
  EXPECT_LT(before, after);
  EXPECT_GT(after, before);
  EXPECT_LE(before, before);
  EXPECT_EQ(after - before, 0x20);
  EXPECT_EQ(before - after, -0x20);
  EXPECT_EQ(later(before, after), after);
  // Half the space away is the limit: 2^31 - 1 ahead is still ahead.
  EXPECT_LT(Seq(0), Seq(0x7FFFFFFFU));
  EXPECT_GT(Seq(0), Seq(0x80000001U));
}

TEST(TcpSeq, WindowsAcrossTheWrap) {
  Seq start(0xFFFFFF00U);
  EXPECT_TRUE(in_window(start, start, 0x200));
  EXPECT_TRUE(in_window(Seq(0x80), start, 0x200));   // wrapped, inside
  EXPECT_FALSE(in_window(Seq(0x100), start, 0x200));  // start + size: just outside
  EXPECT_FALSE(in_window(start - 1, start, 0x200));
  EXPECT_FALSE(in_window(start, start, 0));  // an empty window holds nothing
}

TEST(TcpIsn, FollowsTheClockPerConnectionAndDiffersBetweenConnections) {
  IsnGenerator isn(SipKey{1, 2});
  Endpoints a{{0xC6120001}, 40000, {0xC6120002}, 80};
  Endpoints b = a;
  b.local_port = 40001;
  time::TimePoint t0{std::chrono::seconds(1000)};
  // RFC 6528: M ticks every 4 microseconds, so one millisecond later is 250 further.
  EXPECT_EQ(isn.initial_sequence(a, t0 + 1ms) - isn.initial_sequence(a, t0), 250);
  EXPECT_EQ(isn.initial_sequence(a, t0), isn.initial_sequence(a, t0));
  EXPECT_NE(isn.initial_sequence(a, t0), isn.initial_sequence(b, t0));
  // Another key (another pktd) gives another offset: nobody can compute ours.
  EXPECT_NE(IsnGenerator(SipKey{3, 4}).initial_sequence(a, t0), isn.initial_sequence(a, t0));
  // Spread: the 16-bit ports of 1000 connections land on 1000 different offsets.
  std::set<std::uint32_t> seen;
  for (std::uint16_t port = 1; port <= 1000; ++port) {
    Endpoints e = a;
    e.local_port = port;
    seen.insert(isn.initial_sequence(e, t0).value());
  }
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace pktd::tcp
