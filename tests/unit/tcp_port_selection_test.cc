// Ephemeral port selection (RFC 6056 3.3.4, double-hash port selection).
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "transport/tcp/port_selection.h"

namespace pktd::tcp {
namespace {

const wire::Ipv4Address kLocal = wire::Ipv4Address::from_octets(10, 0, 0, 2);
const wire::Ipv4Address kServer = wire::Ipv4Address::from_octets(203, 0, 113, 9);
constexpr SipKey kKey{0x1122334455667788, 0x99AABBCCDDEEFF00};

auto always = [](std::uint16_t) { return true; };

TEST(TcpPortSelection, DefaultRangeIsLinuxs) {
  PortSelector ports(kKey, 64);
  EXPECT_EQ(ports.range(), (PortRange{32768, 60999}));
  EXPECT_EQ(ports.range().size(), 28232u);
}

TEST(TcpPortSelection, RangeIsValidated) {
  PortSelector ports(kKey, 64);
  EXPECT_FALSE(ports.set_range({0, 100}));    // port 0 is "any"
  EXPECT_FALSE(ports.set_range({2000, 1999}));
  EXPECT_EQ(ports.range(), (PortRange{32768, 60999}));  // unchanged
  EXPECT_TRUE(ports.set_range({1, 65535}));
  EXPECT_EQ(ports.range().size(), 65535u);
  EXPECT_TRUE(ports.set_range({7, 7}));
  EXPECT_EQ(ports.range().size(), 1u);
}

TEST(TcpPortSelection, FollowsRfc6056Formula) {
  PortSelector ports(kKey, 256);
  const std::uint32_t offset = ports.offset_of(kLocal, kServer, 443);
  const std::size_t slot = ports.slot_of(kLocal, kServer, 443);
  ASSERT_LT(slot, 256u);
  const std::uint16_t counter = ports.counter(slot);
  // port = min_ephemeral + (offset + table[index]) % num_ephemeral; table[index]++
  const auto expected = static_cast<std::uint16_t>(
      32768 + (std::uint64_t{offset} + counter) % 28232);
  EXPECT_EQ(ports.pick(kLocal, kServer, 443, always), expected);
  EXPECT_EQ(ports.counter(slot), (counter % 28232 + 1) % 28232);
  // The next connection to the same destination takes the next port of the range.
  const auto next = static_cast<std::uint16_t>(expected == 60999 ? 32768 : expected + 1);
  EXPECT_EQ(ports.pick(kLocal, kServer, 443, always), next);
  EXPECT_EQ(ports.stats().picks, 2u);
  EXPECT_EQ(ports.stats().ports_tried, 2u);
}

TEST(TcpPortSelection, EveryPortIsWithinTheRange) {
  PortSelector ports(kKey, 1024);
  ASSERT_TRUE(ports.set_range({40000, 40999}));
  for (std::uint32_t i = 0; i < 5000; ++i) {
    const auto remote = wire::Ipv4Address{0xC6336400U + (i % 251)};
    const auto port = ports.pick(kLocal, remote, static_cast<std::uint16_t>(1 + i % 7), always);
    ASSERT_TRUE(port.has_value());
    ASSERT_GE(*port, 40000);
    ASSERT_LE(*port, 40999);
  }
}

TEST(TcpPortSelection, DestinationsStartAtUnrelatedPlaces) {
  // RFC 6056 3.3.3: the offset depends on the destination, so seeing our ports towards one server
  // tells nothing about those towards another.
  PortSelector ports(kKey, 1);  // one shared counter: only the offsets differ
  std::set<std::uint16_t> first_ports;
  for (std::uint16_t remote_port = 1; remote_port <= 200; ++remote_port) {
    const auto port = ports.pick(kLocal, kServer, remote_port, always);
    ASSERT_TRUE(port.has_value());
    first_ports.insert(*port);
  }
  // 200 draws from 28232 ports: a collision or two at most (expected 0.7).
  EXPECT_GE(first_ports.size(), 197u);
  // Another key gives another order.
  PortSelector other(SipKey{1, 2}, 1);
  EXPECT_NE(other.offset_of(kLocal, kServer, 80), ports.offset_of(kLocal, kServer, 80));
}

TEST(TcpPortSelection, ConsecutiveConnectionsToOneDestinationGetNextPorts) {
  PortSelector ports(kKey, 64);
  ASSERT_TRUE(ports.set_range({1000, 1009}));
  std::vector<std::uint16_t> picked;
  for (int i = 0; i < 12; ++i) {
    const auto port = ports.pick(kLocal, kServer, 80, always);
    ASSERT_TRUE(port.has_value());
    picked.push_back(*port);
  }
  // Ten different ports, in order around the range, then the cycle starts again.
  EXPECT_EQ(std::set<std::uint16_t>(picked.begin(), picked.begin() + 10).size(), 10u);
  for (std::size_t i = 1; i < picked.size(); ++i) {
    EXPECT_EQ(picked[i], picked[i - 1] == 1009 ? 1000 : picked[i - 1] + 1) << i;
  }
  EXPECT_EQ(picked[10], picked[0]);
}

TEST(TcpPortSelection, PortsInUseAreSkippedAndCountAsTried) {
  PortSelector ports(kKey, 64);
  ASSERT_TRUE(ports.set_range({5000, 5999}));
  const std::size_t slot = ports.slot_of(kLocal, kServer, 22);
  const std::uint16_t before = ports.counter(slot);
  const auto first = static_cast<std::uint16_t>(
      5000 + (std::uint64_t{ports.offset_of(kLocal, kServer, 22)} + before) % 1000);
  // The first two candidates are taken (say, by TIME-WAIT connections).
  std::vector<std::uint16_t> offered;
  const auto port = ports.pick(kLocal, kServer, 22, [&](std::uint16_t p) {
    offered.push_back(p);
    return offered.size() == 3;
  });
  ASSERT_EQ(offered.size(), 3u);
  EXPECT_EQ(offered[0], first);
  EXPECT_EQ(port, offered[2]);
  EXPECT_EQ(offered[2], 5000 + (first - 5000 + 2) % 1000);
  // table[index]++ for each of the three ports tried.
  EXPECT_EQ(ports.counter(slot), (before % 1000 + 3) % 1000);
  EXPECT_EQ(ports.stats().ports_tried, 3u);
}

TEST(TcpPortSelection, ExhaustionTriesEveryPortExactlyOnce) {
  PortSelector ports(kKey, 64);
  ASSERT_TRUE(ports.set_range({20000, 20099}));
  const std::size_t slot = ports.slot_of(kLocal, kServer, 8080);
  const std::uint16_t before = ports.counter(slot);
  std::vector<std::uint16_t> offered;
  const auto port = ports.pick(kLocal, kServer, 8080, [&](std::uint16_t p) {
    offered.push_back(p);
    return false;
  });
  EXPECT_FALSE(port.has_value());  // the caller answers EADDRNOTAVAIL
  ASSERT_EQ(offered.size(), 100u);
  const std::set<std::uint16_t> distinct(offered.begin(), offered.end());
  EXPECT_EQ(distinct.size(), 100u);
  EXPECT_EQ(*distinct.begin(), 20000);
  EXPECT_EQ(*distinct.rbegin(), 20099);
  EXPECT_EQ(ports.stats().exhausted, 1u);
  EXPECT_EQ(ports.stats().picks, 0u);
  // 100 increments of a counter kept modulo 100: the same place.
  EXPECT_EQ(ports.counter(slot), before % 100);
}

TEST(TcpPortSelection, RangeOfOnePort) {
  PortSelector ports(kKey, 64);
  ASSERT_TRUE(ports.set_range({40000, 40000}));
  EXPECT_EQ(ports.pick(kLocal, kServer, 80, always), 40000);
  EXPECT_EQ(ports.pick(kLocal, kServer, 81, always), 40000);
  int calls = 0;
  EXPECT_FALSE(ports.pick(kLocal, kServer, 80, [&](std::uint16_t p) {
    EXPECT_EQ(p, 40000);
    ++calls;
    return false;
  }));
  EXPECT_EQ(calls, 1);
}

TEST(TcpPortSelection, DestinationsSharingASlotShareTheCounter) {
  // With a single slot every pick moves the one counter: RFC 6056 3.3.4's table is what keeps
  // destinations apart, which is why pktd's is large.
  PortSelector ports(kKey, 1);
  ASSERT_TRUE(ports.set_range({30000, 30999}));
  const std::uint16_t c0 = ports.counter(0);
  ASSERT_TRUE(ports.pick(kLocal, kServer, 1, always).has_value());
  ASSERT_TRUE(ports.pick(kLocal, kServer, 1, always).has_value());
  const auto expected = static_cast<std::uint16_t>(
      30000 + (std::uint64_t{ports.offset_of(kLocal, kServer, 2)} + c0 % 1000 + 2) % 1000);
  EXPECT_EQ(ports.pick(kLocal, kServer, 2, always), expected);
}

TEST(TcpPortSelection, DefaultTableIsLinuxsSize) {
  PortSelector ports(kKey);
  EXPECT_LT(ports.slot_of(kLocal, kServer, 80), PortSelector::kDefaultTableSize);
  // The start values are spread over 16 bits (RFC 6056 3.3.4: random() % 65536).
  std::set<std::uint16_t> values;
  for (std::size_t i = 0; i < 1000; ++i) values.insert(ports.counter(i));
  EXPECT_GE(values.size(), 990u);
}

}  // namespace
}  // namespace pktd::tcp
