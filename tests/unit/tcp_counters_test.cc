// TCP's counters (transport/tcp/counters.h): every field has its name in `pkt netstat -s`.
#include <gtest/gtest.h>

#include "transport/tcp/counters.h"

namespace pktd::tcp {
namespace {

TEST(TcpCounters, EveryCounterIsNamed) {
  // named() is written by hand beside the struct: a counter added to one and not the other shows
  // here (the struct holds nothing but std::uint64_t counters).
  const TcpCounters c;
  EXPECT_EQ(c.named().size(), sizeof(TcpCounters) / sizeof(std::uint64_t));
}

TEST(TcpCounters, RackCountersAreNamed) {
  TcpCounters c;
  c.rack_lost_marked = 1;
  c.retransmits_rack = 2;
  c.rack_recoveries = 3;
  c.rack_reorder_timeouts = 4;
  const auto named = c.named();
  EXPECT_EQ(named.at("rack_lost_marked"), 1U);
  EXPECT_EQ(named.at("retransmits_rack"), 2U);
  EXPECT_EQ(named.at("rack_recoveries"), 3U);
  EXPECT_EQ(named.at("rack_reorder_timeouts"), 4U);
}

}  // namespace
}  // namespace pktd::tcp
