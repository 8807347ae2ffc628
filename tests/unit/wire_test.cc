// wire/ unit tests: captured byte vectors parsed field by field, emit(parse(x)) == x, and every
// rejection reason (each truncation point, lying lengths, bad checksums).
//
// The vectors were built by fuzz/make_corpus.py, which computes checksums independently of wire/
// (the same frames are the fuzzer's seeds).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "wire/arp.h"
#include "wire/checksum.h"
#include "wire/endian.h"
#include "wire/ethernet.h"
#include "wire/icmpv4.h"
#include "wire/ipv4.h"
#include "wire/result.h"
#include "wire/tcp.h"
#include "wire/udp.h"

namespace pktd::wire {
namespace {

using Bytes = std::vector<std::byte>;

Bytes bytes(std::initializer_list<unsigned> values) {
  Bytes out;
  for (unsigned v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

std::span<const std::byte> sub(const Bytes& b, std::size_t offset, std::size_t count = std::dynamic_extent) {
  return std::span<const std::byte>(b).subspan(offset, count);
}

constexpr Ipv4Address ip(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return Ipv4Address::from_octets(a, b, c, d);
}

const MacAddress kMacA{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
const MacAddress kMacB{{0x52, 0x54, 0x00, 0xab, 0xcd, 0xef}};

void set8(Bytes& b, std::size_t offset, unsigned value) { store_u8(b, offset, static_cast<std::uint8_t>(value)); }
void set16(Bytes& b, std::size_t offset, unsigned value) { store_be16(b, offset, static_cast<std::uint16_t>(value)); }

// Recomputes the IPv4 header checksum of a packet at `offset` after a test changed a field.
void fix_ipv4_checksum(Bytes& b, std::size_t offset = 0) {
  const std::size_t ihl = std::size_t{load_u8(b, offset) & 0x0FU} * 4;
  set16(b, offset + 10, 0);
  set16(b, offset + 10, internet_checksum(sub(b, offset, ihl)));
}

// 60 octets
const Bytes kArpRequest = bytes({
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06, 0x00, 0x01,
    0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0xc0, 0x00, 0x02, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
});

// 82 octets
const Bytes kIcmpEcho = bytes({
    0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x00, 0x45, 0x00,
    0x00, 0x44, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01, 0x9a, 0x6f, 0xc0, 0x00, 0x02, 0x01, 0xc0, 0x00,
    0x02, 0x02, 0x08, 0x00, 0x26, 0xf8, 0x12, 0x34, 0x00, 0x01, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
    0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25,
    0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35,
    0x36, 0x37,
});

// 53 octets
const Bytes kUdpFrame = bytes({
    0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x00, 0x45, 0x00,
    0x00, 0x27, 0xbe, 0xef, 0x00, 0x00, 0x40, 0x11, 0xa7, 0xd4, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00,
    0x00, 0x02, 0x14, 0xe9, 0x00, 0x35, 0x00, 0x13, 0x8c, 0xe5, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20,
    0x70, 0x6b, 0x74, 0x64, 0x21,
});

// 52 octets
const Bytes kVlanFrame = bytes({
    0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x81, 0x00, 0xa0, 0x64,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x20, 0x00, 0x07, 0x00, 0x00, 0x40, 0x11, 0x66, 0xc2, 0x0a, 0x01,
    0x00, 0x01, 0x0a, 0x01, 0x00, 0x02, 0x0f, 0xa0, 0x0f, 0xa1, 0x00, 0x0c, 0xf4, 0xb5, 0x76, 0x6c,
    0x61, 0x6e, 0x00, 0x00,
});

// 32 octets
const Bytes kIpv4WithOptions = bytes({
    0x46, 0xc0, 0x00, 0x20, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02, 0x31, 0x12, 0xc0, 0x00, 0x02, 0x01,
    0xef, 0x01, 0x02, 0x03, 0x94, 0x04, 0x00, 0x00, 0x16, 0x00, 0xf8, 0xfa, 0xef, 0x01, 0x02, 0x03,
});

// 36 octets
const Bytes kFirstFragment = bytes({
    0x45, 0x00, 0x00, 0x24, 0x42, 0x42, 0x20, 0x00, 0x40, 0x11, 0x94, 0x83, 0xc0, 0x00, 0x02, 0x01,
    0xc0, 0x00, 0x02, 0x02, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
    0x0c, 0x0d, 0x0e, 0x0f,
});

// 28 octets
const Bytes kLastFragment = bytes({
    0x45, 0x00, 0x00, 0x1c, 0x42, 0x42, 0x00, 0x02, 0x40, 0x11, 0xb4, 0x89, 0xc0, 0x00, 0x02, 0x01,
    0xc0, 0x00, 0x02, 0x02, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
});

// 74 octets
const Bytes kTcpSyn = bytes({
    0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x00, 0x45, 0x00,
    0x00, 0x3c, 0x3a, 0x1c, 0x40, 0x00, 0x40, 0x06, 0xec, 0x9d, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00,
    0x00, 0x02, 0xb2, 0x6e, 0x00, 0x50, 0x9f, 0x3c, 0x2a, 0x61, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02,
    0xfa, 0xf0, 0x02, 0x71, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x6b, 0x1e,
    0x4f, 0x21, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
});

// 74 octets
const Bytes kTcpSynAck = bytes({
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, 0x08, 0x00, 0x45, 0x00,
    0x00, 0x3c, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0x26, 0xba, 0x0a, 0x00, 0x00, 0x02, 0x0a, 0x00,
    0x00, 0x01, 0x00, 0x50, 0xb2, 0x6e, 0x51, 0xa4, 0xc0, 0xde, 0x9f, 0x3c, 0x2a, 0x62, 0xa0, 0x12,
    0xfe, 0x88, 0xbe, 0x1d, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x0c, 0x7d,
    0x21, 0xaa, 0x6b, 0x1e, 0x4f, 0x21, 0x01, 0x03, 0x03, 0x07,
});

// 84 octets
const Bytes kTcpData = bytes({
    0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x00, 0x45, 0x00,
    0x00, 0x46, 0x3a, 0x1d, 0x40, 0x00, 0x40, 0x06, 0xec, 0x92, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00,
    0x00, 0x02, 0xb2, 0x6e, 0x00, 0x50, 0x9f, 0x3c, 0x2a, 0x62, 0x51, 0xa4, 0xc0, 0xdf, 0x80, 0x18,
    0x01, 0xf6, 0x0a, 0xb9, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x6b, 0x1e, 0x4f, 0x2b, 0x0c, 0x7d,
    0x21, 0xaa, 0x47, 0x45, 0x54, 0x20, 0x2f, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e, 0x30,
    0x0d, 0x0a, 0x0d, 0x0a,
});

// 94 octets
const Bytes kTcpSack = bytes({
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, 0x08, 0x00, 0x45, 0x00,
    0x00, 0x50, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0x26, 0xa6, 0x0a, 0x00, 0x00, 0x02, 0x0a, 0x00,
    0x00, 0x01, 0x00, 0x50, 0xb2, 0x6e, 0x51, 0xa4, 0xc0, 0xdf, 0x9f, 0x3c, 0x2a, 0x74, 0xf0, 0x10,
    0x01, 0xfd, 0x5b, 0x5f, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x0c, 0x7d, 0x22, 0x00, 0x6b, 0x1e,
    0x4f, 0x2b, 0x01, 0x01, 0x05, 0x1a, 0x9f, 0x3c, 0x30, 0x00, 0x9f, 0x3c, 0x34, 0x00, 0x9f, 0x3c,
    0x38, 0x00, 0x9f, 0x3c, 0x3c, 0x00, 0x9f, 0x3c, 0x40, 0x00, 0x9f, 0x3c, 0x44, 0x00,
});

// ---- Result, endian, checksum ----

TEST(WireResult, EveryParseErrorHasADistinctName) {
  std::set<std::string> names;
  for (std::size_t i = 0; i < kParseErrorCount; ++i) {
    const auto name = to_string(static_cast<ParseError>(i));
    EXPECT_NE(name, "unknown");
    names.insert(std::string(name));
  }
  EXPECT_EQ(names.size(), kParseErrorCount);
}

TEST(WireResult, HoldsValueOrError) {
  Result<int> ok(7);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 7);
  Result<int> bad(ParseError::bad_checksum);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), ParseError::bad_checksum);
}

TEST(WireEndian, LoadsAndStoresBigEndian) {
  Bytes b(6);
  store_be16(b, 0, 0x1234);
  store_be32(b, 2, 0xA1B2C3D4);
  EXPECT_EQ(b, bytes({0x12, 0x34, 0xA1, 0xB2, 0xC3, 0xD4}));
  EXPECT_EQ(load_be16(b, 0), 0x1234);
  EXPECT_EQ(load_be32(b, 2), 0xA1B2C3D4U);
  EXPECT_EQ(load_u8(b, 5), 0xD4);
}

TEST(WireChecksum, Rfc1071Example) {
  // RFC 1071 3: the sum of 0001 f203 f4f5 f6f7 is ddf2 (after the end-around carry).
  const Bytes data = bytes({0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7});
  EXPECT_EQ(internet_checksum(data), static_cast<std::uint16_t>(~0xddf2U));
}

TEST(WireChecksum, IncrementalMatchesContiguousAcrossOddSplits) {
  Bytes data;
  for (unsigned i = 0; i < 37; ++i) data.push_back(static_cast<std::byte>(i * 37 + 11));
  const std::uint16_t whole = internet_checksum(data);
  for (std::size_t split = 0; split <= data.size(); ++split) {
    for (std::size_t split2 = split; split2 <= data.size(); ++split2) {
      InternetChecksum sum;
      sum.add(sub(data, 0, split));
      sum.add(sub(data, split, split2 - split));
      sum.add(sub(data, split2));
      ASSERT_EQ(sum.finish(), whole) << split << " " << split2;
    }
  }
}

// The sum four octets at a time (payloads of 32 octets and more) against the definition, one
// big-endian word after another, for every length and alignment up to a frame and beyond, with
// the words that carry most (0xFFFF runs) among them.
TEST(WireChecksum, WideSumMatchesWordByWordDefinition) {
  auto reference = [](std::span<const std::byte> d) {
    std::uint64_t s = 0;
    for (std::size_t k = 0; k < d.size(); k += 2)
      s += (std::uint64_t{std::to_integer<std::uint8_t>(d[k])} << 8) |
           (k + 1 < d.size() ? std::to_integer<std::uint8_t>(d[k + 1]) : 0U);
    while ((s >> 16) != 0) s = (s & 0xFFFFU) + (s >> 16);
    return static_cast<std::uint16_t>(~s & 0xFFFFU);
  };
  std::uint32_t x = 12345;
  Bytes data(1600);
  for (auto& b : data) {
    x = x * 1103515245U + 12345U;
    b = static_cast<std::byte>(x >> 16);
  }
  Bytes ones(70000, std::byte{0xFF});  // 2^16 words of 0xFFFF and more: every carry
  ASSERT_EQ(internet_checksum(ones), reference(ones));
  for (std::size_t offset = 0; offset < 8; ++offset) {
    for (std::size_t len = 0; len + offset <= data.size(); len += (len < 80 ? 1 : 97)) {
      auto chunk = std::span<const std::byte>(data).subspan(offset, len);
      ASSERT_EQ(internet_checksum(chunk), reference(chunk)) << offset << " " << len;
      const std::size_t odd_half = std::min(len, (len / 2) | 1U);
      InternetChecksum halves;  // an odd first chunk starts the wide path on an odd octet
      halves.add(chunk.first(odd_half));
      halves.add(chunk.subspan(odd_half));
      ASSERT_EQ(halves.finish(), reference(chunk)) << offset << " " << len;
    }
  }
}

TEST(WireChecksum, VerifiesWhenChecksumFieldIncluded) {
  Bytes data = bytes({0x45, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00});
  set16(data, 10, internet_checksum(data));
  InternetChecksum sum;
  sum.add(data);
  EXPECT_TRUE(sum.verifies());
}

// ---- Ethernet II and 802.1Q ----

TEST(WireEthernet, ParsesUntaggedFrame) {
  auto eth = EthernetView::parse(kArpRequest);
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->destination(), MacAddress::broadcast());
  EXPECT_TRUE(eth->destination().is_broadcast());
  EXPECT_EQ(eth->source(), kMacA);
  EXPECT_FALSE(eth->source().is_multicast());
  EXPECT_FALSE(eth->tagged());
  EXPECT_FALSE(eth->vlan());
  EXPECT_EQ(eth->ethertype(), kEthertypeArp);
  EXPECT_EQ(eth->header_length(), 14U);
  EXPECT_EQ(eth->payload().size(), 46U);
}

TEST(WireEthernet, ReportsVlanTagAndInnerEthertype) {
  auto eth = EthernetView::parse(kVlanFrame);
  ASSERT_TRUE(eth);
  EXPECT_TRUE(eth->tagged());
  ASSERT_TRUE(eth->vlan());
  EXPECT_EQ(eth->vlan()->pcp, 5);
  EXPECT_FALSE(eth->vlan()->dei);
  EXPECT_EQ(eth->vlan()->vid, 100);
  EXPECT_EQ(eth->ethertype(), kEthertypeIpv4);
  EXPECT_EQ(eth->header_length(), 18U);
  EXPECT_EQ(eth->payload().size(), kVlanFrame.size() - 18);
  auto ipv4 = Ipv4View::parse(eth->payload());
  ASSERT_TRUE(ipv4);
  EXPECT_EQ(ipv4->payload().size(), 12U);  // the two octets of padding are not IP payload
  auto udp = UdpView::parse(*ipv4);
  ASSERT_TRUE(udp);
  EXPECT_EQ(udp->source_port(), 4000);
  EXPECT_EQ(udp->destination_port(), 4001);
}

TEST(WireEthernet, DeiAndPriorityTagRoundTrip) {
  Bytes frame = kVlanFrame;
  set16(frame, 14, 0x1000);  // pcp 0, DEI, VID 0 (priority tag)
  auto header = EthernetHeader::parse(frame);
  ASSERT_TRUE(header);
  ASSERT_TRUE(header->vlan);
  EXPECT_TRUE(header->vlan->dei);
  EXPECT_EQ(header->vlan->vid, 0);
  Bytes out(header->length());
  ASSERT_TRUE(header->emit(out));
  EXPECT_TRUE(std::ranges::equal(out, sub(frame, 0, 18)));
}

TEST(WireEthernet, RoundTrips) {
  for (const Bytes* frame : {&kArpRequest, &kIcmpEcho, &kUdpFrame, &kVlanFrame}) {
    auto header = EthernetHeader::parse(*frame);
    ASSERT_TRUE(header);
    Bytes out(header->length());
    ASSERT_TRUE(header->emit(out));
    EXPECT_TRUE(std::ranges::equal(out, sub(*frame, 0, out.size())));
  }
}

TEST(WireEthernet, EveryTruncationPoint) {
  for (std::size_t n = 0; n < 14; ++n) {
    auto r = EthernetView::parse(sub(kArpRequest, 0, n));
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error(), ParseError::truncated) << n;
  }
  for (std::size_t n = 0; n < 18; ++n) {
    auto r = EthernetView::parse(sub(kVlanFrame, 0, n));
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error(), ParseError::truncated) << n;
  }
  EXPECT_TRUE(EthernetView::parse(sub(kArpRequest, 0, 14)));  // a header with no payload is a frame
  EXPECT_TRUE(EthernetView::parse(sub(kVlanFrame, 0, 18)));
}

TEST(WireEthernet, RejectsLengthFieldAndReservedVid) {
  Bytes frame = kArpRequest;
  set16(frame, 12, 0x05DC);  // 1500: an IEEE 802.3 length (LLC), not an Ethernet II type
  EXPECT_EQ(EthernetView::parse(frame).error(), ParseError::bad_ethertype);
  set16(frame, 12, 0x0600);
  EXPECT_TRUE(EthernetView::parse(frame));

  Bytes tagged = kVlanFrame;
  set16(tagged, 16, 0x0042);
  EXPECT_EQ(EthernetView::parse(tagged).error(), ParseError::bad_ethertype);
  tagged = kVlanFrame;
  set16(tagged, 14, 0xAFFF);  // VID 4095 is reserved (IEEE 802.1Q Table 9-2)
  EXPECT_EQ(EthernetView::parse(tagged).error(), ParseError::bad_vlan_id);
  set16(tagged, 14, 0xAFFE);
  EXPECT_TRUE(EthernetView::parse(tagged));
}

TEST(WireEthernet, DoubleTagReportsInnerTpid) {
  Bytes frame = kVlanFrame;
  set16(frame, 16, kEthertypeVlan);  // QinQ with 0x8100 inner: the stack decides, wire reports
  auto eth = EthernetView::parse(frame);
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->ethertype(), kEthertypeVlan);
}

TEST(WireEthernet, EmitRejectsWhatDoesNotFit) {
  EthernetHeader h{kMacB, kMacA, VlanTag{1, false, 10}, kEthertypeIpv4};
  Bytes small(17);
  EXPECT_FALSE(h.emit(small));
  Bytes out(18);
  h.vlan->vid = 0xFFF;
  EXPECT_FALSE(h.emit(out));
  h.vlan->vid = 10;
  h.vlan->pcp = 8;
  EXPECT_FALSE(h.emit(out));
  h.vlan.reset();
  h.ethertype = 0x05FF;
  EXPECT_FALSE(h.emit(out));
  h.ethertype = kEthertypeIpv6;
  ASSERT_TRUE(h.emit(out));
  EXPECT_EQ(load_be16(out, 12), kEthertypeIpv6);
  EXPECT_EQ(*EthernetHeader::parse(out), h);
}

// ---- ARP ----

TEST(WireArp, ParsesRequest) {
  auto arp = ArpView::parse(sub(kArpRequest, 14));
  ASSERT_TRUE(arp);
  EXPECT_EQ(arp->operation(), ArpOperation::request);
  EXPECT_EQ(arp->sender_mac(), kMacA);
  EXPECT_EQ(arp->sender_ip(), ip(192, 0, 2, 1));
  EXPECT_EQ(arp->target_mac(), MacAddress{});
  EXPECT_EQ(arp->target_ip(), ip(192, 0, 2, 2));
  EXPECT_EQ(arp->bytes().size(), 28U);  // the 18 octets of padding are dropped
}

TEST(WireArp, RoundTripsAndBuildsReply) {
  auto request = ArpPacket::parse(sub(kArpRequest, 14));
  ASSERT_TRUE(request);
  Bytes out(ArpPacket::length());
  ASSERT_TRUE(request->emit(out));
  EXPECT_TRUE(std::ranges::equal(out, sub(kArpRequest, 14, 28)));

  const ArpPacket reply{ArpOperation::reply, kMacB, request->target_ip, request->sender_mac, request->sender_ip};
  ASSERT_TRUE(reply.emit(out));
  EXPECT_EQ(load_be16(out, 6), 2);
  EXPECT_EQ(*ArpPacket::parse(out), reply);
}

TEST(WireArp, EveryTruncationPoint) {
  for (std::size_t n = 0; n < 28; ++n) {
    auto r = ArpView::parse(sub(kArpRequest, 14, n));
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error(), ParseError::truncated) << n;
  }
}

TEST(WireArp, RejectsOtherHardwareProtocolsLengthsAndOperations) {
  const Bytes arp(kArpRequest.begin() + 14, kArpRequest.end());
  auto with = [&](std::size_t offset, unsigned value, bool wide) {
    Bytes b = arp;
    if (wide) set16(b, offset, value); else set8(b, offset, value);
    return ArpView::parse(b);
  };
  EXPECT_EQ(with(0, 6, true).error(), ParseError::unsupported_hardware);       // IEEE 802 networks
  EXPECT_EQ(with(2, 0x86DD, true).error(), ParseError::unsupported_protocol);  // not IPv4
  EXPECT_EQ(with(4, 8, false).error(), ParseError::bad_address_length);        // EUI-64 hardware
  EXPECT_EQ(with(5, 16, false).error(), ParseError::bad_address_length);
  EXPECT_EQ(with(6, 0, true).error(), ParseError::bad_operation);
  EXPECT_EQ(with(6, 3, true).error(), ParseError::bad_operation);  // RARP request (RFC 903)
  // The fixed part is checked before the length of the addresses it announces.
  Bytes short_other = arp;
  set16(short_other, 0, 6);
  EXPECT_EQ(ArpView::parse(sub(short_other, 0, 8)).error(), ParseError::unsupported_hardware);
}

TEST(WireArp, EmitRejectsUnknownOperationAndShortBuffer) {
  ArpPacket p{static_cast<ArpOperation>(3), kMacA, ip(1, 2, 3, 4), {}, ip(5, 6, 7, 8)};
  Bytes out(28);
  EXPECT_FALSE(p.emit(out));
  p.operation = ArpOperation::request;
  Bytes small(27);
  EXPECT_FALSE(p.emit(small));
}

// ---- IPv4 ----

TEST(WireIpv4, ParsesEchoRequestPacket) {
  auto ipv4 = Ipv4View::parse(sub(kIcmpEcho, 14));
  ASSERT_TRUE(ipv4);
  EXPECT_EQ(ipv4->version(), 4);
  EXPECT_EQ(ipv4->header_length(), 20U);
  EXPECT_EQ(ipv4->tos(), 0);
  EXPECT_EQ(ipv4->total_length(), 68);
  EXPECT_EQ(ipv4->identification(), 0x1c46);
  EXPECT_FALSE(ipv4->reserved_flag());
  EXPECT_TRUE(ipv4->dont_fragment());
  EXPECT_FALSE(ipv4->more_fragments());
  EXPECT_EQ(ipv4->fragment_offset(), 0);
  EXPECT_FALSE(ipv4->is_fragment());
  EXPECT_EQ(ipv4->ttl(), 64);
  EXPECT_EQ(ipv4->protocol(), kIpProtocolIcmp);
  EXPECT_EQ(ipv4->checksum(), 0x9a6f);
  EXPECT_EQ(ipv4->source(), ip(192, 0, 2, 1));
  EXPECT_EQ(ipv4->destination(), ip(192, 0, 2, 2));
  EXPECT_TRUE(ipv4->options().empty());
  EXPECT_EQ(ipv4->payload().size(), 48U);
  EXPECT_EQ(ipv4->bytes().size(), 68U);
}

TEST(WireIpv4, ExposesOptionsAndSkipsThem) {
  auto ipv4 = Ipv4View::parse(kIpv4WithOptions);
  ASSERT_TRUE(ipv4);
  EXPECT_EQ(ipv4->header_length(), 24U);
  EXPECT_EQ(ipv4->dscp(), 0x30);  // CS6 (RFC 2474)
  EXPECT_EQ(ipv4->ecn(), 0);
  EXPECT_EQ(ipv4->ttl(), 1);
  EXPECT_EQ(ipv4->protocol(), 2);  // IGMP
  EXPECT_EQ(ipv4->destination(), ip(239, 1, 2, 3));
  // Router Alert (RFC 2113): type 148, length 4, value 0.
  EXPECT_TRUE(std::ranges::equal(ipv4->options(), bytes({0x94, 0x04, 0x00, 0x00})));
  ASSERT_EQ(ipv4->payload().size(), 8U);
  EXPECT_EQ(load_u8(ipv4->payload(), 0), 0x16);  // IGMPv2 membership report follows the options
  EXPECT_EQ(ipv4->payload().data(), kIpv4WithOptions.data() + 24);
}

TEST(WireIpv4, ParsesFragments) {
  auto first = Ipv4View::parse(kFirstFragment);
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->is_fragment());
  EXPECT_TRUE(first->more_fragments());
  EXPECT_FALSE(first->dont_fragment());
  EXPECT_EQ(first->fragment_offset(), 0);
  EXPECT_EQ(first->identification(), 0x4242);
  EXPECT_EQ(first->payload().size(), 16U);
  auto last = Ipv4View::parse(kLastFragment);
  ASSERT_TRUE(last);
  EXPECT_TRUE(last->is_fragment());
  EXPECT_FALSE(last->more_fragments());
  EXPECT_EQ(last->fragment_offset(), 2);  // 16 octets
  EXPECT_EQ(last->payload().size(), 8U);
  EXPECT_EQ(load_u8(last->payload(), 0), 0x10);
}

TEST(WireIpv4, RoundTrips) {
  const std::vector<std::span<const std::byte>> packets = {sub(kIcmpEcho, 14), sub(kUdpFrame, 14),
                                                           sub(kVlanFrame, 18, 32), kIpv4WithOptions,
                                                           kFirstFragment, kLastFragment};
  for (auto packet : packets) {
    auto header = Ipv4Header::parse(packet);
    ASSERT_TRUE(header);
    EXPECT_EQ(header->total_length(), packet.size());
    Bytes out(header->length());
    ASSERT_TRUE(header->emit(out));
    EXPECT_TRUE(std::ranges::equal(out, packet.first(out.size())));
    // A header rewritten in place (options already there) comes out the same.
    Bytes in_place(packet.begin(), packet.end());
    auto again = Ipv4Header::parse(in_place);
    ASSERT_TRUE(again);
    ASSERT_TRUE(again->emit(in_place));
    EXPECT_TRUE(std::ranges::equal(in_place, packet));
  }
}

TEST(WireIpv4, EmitBuildsChecksummedHeader) {
  Ipv4Header h;
  h.identification = 0x1c46;
  h.dont_fragment = true;
  h.protocol = kIpProtocolIcmp;
  h.source = ip(192, 0, 2, 1);
  h.destination = ip(192, 0, 2, 2);
  h.payload_length = 48;
  Bytes out(20);
  ASSERT_TRUE(h.emit(out));
  EXPECT_TRUE(std::ranges::equal(out, sub(kIcmpEcho, 14, 20)));
  EXPECT_EQ(h.pseudo_header().length, 48);
}

TEST(WireIpv4, EmitRejectsWhatDoesNotFit) {
  Ipv4Header h;
  Bytes out(64);
  const Bytes three = bytes({1, 1, 1});
  h.options = three;
  EXPECT_FALSE(h.emit(out));
  const Bytes too_long(44);
  h.options = too_long;
  EXPECT_FALSE(h.emit(out));
  h.options = {};
  h.fragment_offset = 0x2000;
  EXPECT_FALSE(h.emit(out));
  h.fragment_offset = 0;
  h.payload_length = 65516;
  EXPECT_FALSE(h.emit(out));
  h.payload_length = 65515;
  EXPECT_TRUE(h.emit(out));
  Bytes small(19);
  EXPECT_FALSE(h.emit(small));
}

TEST(WireIpv4, EveryTruncationPoint) {
  // Below 20 octets and below IHL*4: the header is cut. From there to Total Length: the data is.
  for (std::size_t n = 0; n < kIpv4WithOptions.size(); ++n) {
    auto r = Ipv4View::parse(sub(kIpv4WithOptions, 0, n));
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error(), ParseError::truncated) << n;
  }
  const auto echo = sub(kIcmpEcho, 14);
  for (std::size_t n = 0; n < echo.size(); ++n) {
    auto r = Ipv4View::parse(echo.first(n));
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error(), ParseError::truncated) << n;
  }
}

TEST(WireIpv4, TrimsLinkPaddingToTotalLength) {
  Bytes padded = kLastFragment;
  padded.resize(46, std::byte{0xEE});  // Ethernet minimum payload
  auto ipv4 = Ipv4View::parse(padded);
  ASSERT_TRUE(ipv4);
  EXPECT_EQ(ipv4->bytes().size(), 28U);
  EXPECT_EQ(ipv4->payload().size(), 8U);
}

TEST(WireIpv4, RejectsBadVersionAndHeaderLength) {
  Bytes b = kFirstFragment;
  set8(b, 0, 0x65);
  EXPECT_EQ(Ipv4View::parse(b).error(), ParseError::bad_version);
  set8(b, 0, 0x05);
  EXPECT_EQ(Ipv4View::parse(b).error(), ParseError::bad_version);
  for (unsigned ihl = 0; ihl < 5; ++ihl) {
    set8(b, 0, 0x40 | ihl);
    EXPECT_EQ(Ipv4View::parse(b).error(), ParseError::bad_header_length) << ihl;
  }
  set8(b, 0, 0x4F);  // 60-octet header in a 36-octet packet
  EXPECT_EQ(Ipv4View::parse(b).error(), ParseError::truncated);
}

TEST(WireIpv4, RejectsLyingTotalLength) {
  Bytes b = kIpv4WithOptions;
  for (unsigned total : {0U, 20U, 23U}) {  // shorter than the 24-octet header
    set16(b, 2, total);
    fix_ipv4_checksum(b);
    EXPECT_EQ(Ipv4View::parse(b).error(), ParseError::bad_total_length) << total;
  }
  set16(b, 2, 24);  // a header with no data is valid
  fix_ipv4_checksum(b);
  EXPECT_TRUE(Ipv4View::parse(b));
  for (unsigned total : {33U, 1500U, 65535U}) {  // longer than the buffer
    set16(b, 2, total);
    fix_ipv4_checksum(b);
    EXPECT_EQ(Ipv4View::parse(b).error(), ParseError::truncated) << total;
  }
}

TEST(WireIpv4, RejectsBadChecksumUnlessSkipped) {
  for (std::size_t i = 0; i < 20; ++i) {
    if (i == 0 || i == 2 || i == 3) continue;  // those change what is parsed, not only the sum
    Bytes b = kFirstFragment;
    set8(b, i, load_u8(b, i) ^ 0x01U);
    if (i == 6 || i == 7) continue;             // fragment fields: checked after the checksum
    EXPECT_EQ(Ipv4View::parse(b).error(), ParseError::bad_checksum) << i;
    EXPECT_TRUE(Ipv4View::parse(b, ChecksumCheck::skip)) << i;
  }
  Bytes options = kIpv4WithOptions;  // the checksum covers the options too
  set8(options, 22, 0x01);
  EXPECT_EQ(Ipv4View::parse(options).error(), ParseError::bad_checksum);
  Bytes data = kFirstFragment;  // but not the data
  set8(data, 30, 0xFF);
  EXPECT_TRUE(Ipv4View::parse(data));
}

TEST(WireIpv4, RejectsImpossibleFragments) {
  Bytes b = kFirstFragment;  // MF with 15 octets of data: not a multiple of 8 (RFC 791 3.2)
  set16(b, 2, 35);
  fix_ipv4_checksum(b);
  EXPECT_EQ(Ipv4View::parse(b).error(), ParseError::bad_fragment);
  b = kLastFragment;  // offset 8189*8 + 8 data + 20 header = 65540 > 65535: "ping of death"
  set16(b, 6, 8189);
  fix_ipv4_checksum(b);
  EXPECT_EQ(Ipv4View::parse(b).error(), ParseError::bad_fragment);
  set16(b, 6, 8188);  // 65504 + 8 + 20 = 65532: fits
  fix_ipv4_checksum(b);
  EXPECT_TRUE(Ipv4View::parse(b));
  b = kLastFragment;  // the reserved flag is reported, not rejected (RFC 1122 1.2.2 robustness)
  set16(b, 6, 0x8002);
  fix_ipv4_checksum(b);
  auto evil = Ipv4View::parse(b);
  ASSERT_TRUE(evil);
  EXPECT_TRUE(evil->reserved_flag());
  auto header = Ipv4Header::from(*evil);
  Bytes out(20);
  ASSERT_TRUE(header.emit(out));
  EXPECT_TRUE(std::ranges::equal(out, sub(b, 0, 20)));
}

// ---- ICMPv4 ----

TEST(WireIcmpv4, ParsesEchoRequest) {
  auto ipv4 = Ipv4View::parse(sub(kIcmpEcho, 14));
  ASSERT_TRUE(ipv4);
  auto icmp = Icmpv4View::parse(ipv4->payload());
  ASSERT_TRUE(icmp);
  EXPECT_EQ(icmp->type(), icmpv4::kEchoRequest);
  EXPECT_EQ(icmp->code(), 0);
  EXPECT_EQ(icmp->checksum(), 0x26f8);
  EXPECT_TRUE(icmp->is_echo());
  EXPECT_EQ(icmp->echo_identifier(), 0x1234);
  EXPECT_EQ(icmp->echo_sequence(), 1);
  EXPECT_EQ(icmp->rest_of_header(), 0x12340001U);
  ASSERT_EQ(icmp->payload().size(), 40U);
  EXPECT_EQ(load_u8(icmp->payload(), 0), 0x10);
  EXPECT_EQ(load_u8(icmp->payload(), 39), 0x37);
}

TEST(WireIcmpv4, RoundTripsAndAnswersEcho) {
  const auto message = sub(kIcmpEcho, 34);
  auto echo = Icmpv4Message::parse(message);
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->echo_identifier(), 0x1234);
  EXPECT_EQ(echo->echo_sequence(), 1);
  Bytes out(echo->length());
  ASSERT_TRUE(echo->emit(out));
  EXPECT_TRUE(std::ranges::equal(out, message));

  // The reply is built in place: the data is already where emit would copy it.
  Bytes reply(message.begin(), message.end());
  const auto answer = Icmpv4Message::echo(icmpv4::kEchoReply, echo->echo_identifier(), echo->echo_sequence(),
                                          sub(reply, 8));
  ASSERT_TRUE(answer.emit(reply));
  auto parsed = Icmpv4View::parse(reply);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->type(), icmpv4::kEchoReply);
  EXPECT_EQ(parsed->checksum(), 0x26f8 + 0x0800);  // RFC 1624: only the type changed
  EXPECT_TRUE(std::ranges::equal(parsed->payload(), message.subspan(8)));
}

TEST(WireIcmpv4, ErrorMessageFields) {
  // Fragmentation needed (RFC 1191): next-hop MTU 1400, quoting the first fragment's header + 8.
  const auto quoted = sub(kFirstFragment, 0, 28);
  const Icmpv4Message m{icmpv4::kDestinationUnreachable, icmpv4::kFragmentationNeeded, 1400, quoted};
  Bytes out(m.length());
  ASSERT_TRUE(m.emit(out));
  auto view = Icmpv4View::parse(out);
  ASSERT_TRUE(view);
  EXPECT_FALSE(view->is_echo());
  EXPECT_EQ(view->next_hop_mtu(), 1400);
  auto inner = Ipv4View::parse(view->payload(), ChecksumCheck::verify);
  EXPECT_FALSE(inner);  // only 28 of 36 octets are quoted
  EXPECT_EQ(inner.error(), ParseError::truncated);
  const Icmpv4Message problem{icmpv4::kParameterProblem, 0, 0x14000000, {}};
  Bytes p(8);
  ASSERT_TRUE(problem.emit(p));
  EXPECT_EQ(Icmpv4View::parse(p)->pointer(), 20);
}

TEST(WireIcmpv4, EveryTruncationPointAndBadChecksum) {
  const auto message = sub(kIcmpEcho, 34);
  for (std::size_t n = 0; n < 8; ++n) {
    auto r = Icmpv4View::parse(message.first(n));
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error(), ParseError::truncated) << n;
  }
  // The checksum covers the whole message: a cut or a changed octet anywhere is caught.
  for (std::size_t n = 8; n < message.size(); ++n) {
    EXPECT_EQ(Icmpv4View::parse(message.first(n)).error(), ParseError::bad_checksum) << n;
    EXPECT_TRUE(Icmpv4View::parse(message.first(n), ChecksumCheck::skip)) << n;
  }
  for (std::size_t i = 0; i < message.size(); ++i) {
    Bytes b(message.begin(), message.end());
    set8(b, i, load_u8(b, i) ^ 0x40U);
    EXPECT_EQ(Icmpv4View::parse(b).error(), ParseError::bad_checksum) << i;
  }
}

TEST(WireIcmpv4, OddLengthMessage) {
  const Bytes data = bytes({0xAA, 0xBB, 0xCC});
  const auto m = Icmpv4Message::echo(icmpv4::kEchoRequest, 1, 2, data);
  Bytes out(m.length());
  ASSERT_TRUE(m.emit(out));
  auto parsed = Icmpv4Message::parse(out);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, m);
  Bytes small(10);
  EXPECT_FALSE(m.emit(small));
}

// ---- UDP ----

TEST(WireUdp, ParsesDatagramInIpv4InEthernet) {
  auto eth = EthernetView::parse(kUdpFrame);
  ASSERT_TRUE(eth);
  ASSERT_EQ(eth->ethertype(), kEthertypeIpv4);
  auto ipv4 = Ipv4View::parse(eth->payload());
  ASSERT_TRUE(ipv4);
  EXPECT_EQ(ipv4->protocol(), kIpProtocolUdp);
  EXPECT_FALSE(ipv4->dont_fragment());
  EXPECT_EQ(ipv4->identification(), 0xbeef);
  auto udp = UdpView::parse(*ipv4);
  ASSERT_TRUE(udp);
  EXPECT_EQ(udp->source_port(), 5353);
  EXPECT_EQ(udp->destination_port(), 53);
  EXPECT_EQ(udp->length(), 19);
  EXPECT_EQ(udp->checksum(), 0x8ce5);
  EXPECT_TRUE(udp->has_checksum());
  std::string text;
  for (std::byte c : udp->payload()) text.push_back(static_cast<char>(c));
  EXPECT_EQ(text, "hello pktd!");
}

TEST(WireUdp, WholeFrameRoundTrip) {
  auto eth = EthernetHeader::parse(kUdpFrame);
  ASSERT_TRUE(eth);
  auto ipv4 = Ipv4Header::parse(sub(kUdpFrame, 14));
  ASSERT_TRUE(ipv4);
  auto udp = UdpDatagram::parse(sub(kUdpFrame, 34), ipv4->source, ipv4->destination);
  ASSERT_TRUE(udp);
  Bytes out(eth->length() + ipv4->length() + udp->length());
  ASSERT_TRUE(eth->emit(out));
  ASSERT_TRUE(ipv4->emit(std::span(out).subspan(eth->length())));
  ASSERT_TRUE(udp->emit(std::span(out).subspan(eth->length() + ipv4->length()), ipv4->source, ipv4->destination));
  EXPECT_EQ(out, kUdpFrame);
}

TEST(WireUdp, ChecksumCoversPseudoHeader) {
  const auto datagram = sub(kUdpFrame, 34);
  EXPECT_TRUE(UdpView::parse(datagram, ip(10, 0, 0, 1), ip(10, 0, 0, 2)));
  EXPECT_EQ(UdpView::parse(datagram, ip(10, 0, 0, 1), ip(10, 0, 0, 3)).error(), ParseError::bad_checksum);
  EXPECT_EQ(UdpView::parse(datagram, ip(10, 0, 0, 9), ip(10, 0, 0, 2)).error(), ParseError::bad_checksum);
  EXPECT_TRUE(UdpView::parse(datagram, ip(10, 0, 0, 9), ip(10, 0, 0, 2), ChecksumCheck::skip));
  for (std::size_t i = 0; i < datagram.size(); ++i) {
    if (i == 4 || i == 5) continue;  // the length: see LyingLengths
    Bytes b(datagram.begin(), datagram.end());
    set8(b, i, load_u8(b, i) ^ 0x04U);
    EXPECT_EQ(UdpView::parse(b, ip(10, 0, 0, 1), ip(10, 0, 0, 2)).error(), ParseError::bad_checksum) << i;
  }
}

TEST(WireUdp, ZeroChecksumMeansNone) {
  Bytes b(kUdpFrame.begin() + 34, kUdpFrame.end());
  set16(b, 6, 0);
  set8(b, 10, 'J');  // RFC 768: no checksum was generated, so nothing can be verified
  auto udp = UdpDatagram::parse(b, ip(10, 0, 0, 1), ip(10, 0, 0, 2));
  ASSERT_TRUE(udp);
  EXPECT_FALSE(udp->with_checksum);
  Bytes out(udp->length());
  ASSERT_TRUE(udp->emit(out, ip(10, 0, 0, 1), ip(10, 0, 0, 2)));
  EXPECT_EQ(out, b);
}

TEST(WireUdp, ComputedZeroIsSentAsAllOnes) {
  // Choose the last two payload octets so the sum is 0xFFFF: the computed checksum is then 0.
  Bytes payload = bytes({0x01, 0x02, 0x00, 0x00});
  UdpDatagram d{1000, 2000, true, payload};
  Bytes out(d.length());
  ASSERT_TRUE(d.emit(out, ip(10, 0, 0, 1), ip(10, 0, 0, 2)));
  set16(payload, 2, load_be16(out, 6));
  ASSERT_TRUE(d.emit(out, ip(10, 0, 0, 1), ip(10, 0, 0, 2)));
  EXPECT_EQ(load_be16(out, 6), 0xFFFF);
  auto udp = UdpView::parse(out, ip(10, 0, 0, 1), ip(10, 0, 0, 2));
  ASSERT_TRUE(udp);
  EXPECT_TRUE(udp->has_checksum());
}

TEST(WireUdp, EveryTruncationPoint) {
  const auto datagram = sub(kUdpFrame, 34);
  for (std::size_t n = 0; n < datagram.size(); ++n) {
    auto r = UdpView::parse(datagram.first(n), ip(10, 0, 0, 1), ip(10, 0, 0, 2));
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error(), ParseError::truncated) << n;
  }
}

TEST(WireUdp, LyingLengths) {
  Bytes b(kUdpFrame.begin() + 34, kUdpFrame.end());
  for (unsigned length : {0U, 1U, 7U}) {
    set16(b, 4, length);
    EXPECT_EQ(UdpView::parse(b, {}, {}, ChecksumCheck::skip).error(), ParseError::bad_length) << length;
  }
  for (unsigned length : {20U, 65535U}) {
    set16(b, 4, length);
    EXPECT_EQ(UdpView::parse(b, {}, {}, ChecksumCheck::skip).error(), ParseError::truncated) << length;
  }
  set16(b, 4, 8);  // a shorter length is honoured: the rest is padding, not data
  auto udp = UdpView::parse(b, {}, {}, ChecksumCheck::skip);
  ASSERT_TRUE(udp);
  EXPECT_TRUE(udp->payload().empty());
  EXPECT_EQ(UdpView::parse(b, ip(10, 0, 0, 1), ip(10, 0, 0, 2)).error(), ParseError::bad_checksum);
}

TEST(WireUdp, EmitInPlaceAndLimits) {
  Bytes buffer(8 + 5);
  for (std::size_t i = 8; i < buffer.size(); ++i) buffer[i] = static_cast<std::byte>(i);
  const UdpDatagram d{7, 9, true, sub(buffer, 8)};
  ASSERT_TRUE(d.emit(buffer, ip(1, 1, 1, 1), ip(2, 2, 2, 2)));
  auto parsed = UdpDatagram::parse(buffer, ip(1, 1, 1, 1), ip(2, 2, 2, 2));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, d);
  Bytes small(12);
  EXPECT_FALSE(d.emit(small, {}, {}));
  const Bytes huge(65528);
  const UdpDatagram big{1, 2, true, huge};
  Bytes out(big.length());
  EXPECT_FALSE(big.emit(out, {}, {}));
}

// ---- TCP ----

// The RFC 9293 3.1 checksum the plain way, independently of wire/checksum.h: the pseudo-header
// (source, destination, zero, 6, TCP Length) and the segment with its checksum field taken as
// zero, as big-endian 16-bit words (an odd last octet padded on the right), summed in 32 bits,
// carries folded back, complemented.
std::uint16_t reference_tcp_checksum(Ipv4Address source, Ipv4Address destination,
                                     std::span<const std::byte> segment) {
  std::vector<unsigned> octets;
  for (std::uint32_t address : {source.value, destination.value}) {
    for (unsigned shift : {24U, 16U, 8U, 0U}) octets.push_back((address >> shift) & 0xFFU);
  }
  const auto tcp_length = static_cast<unsigned>(segment.size());
  octets.insert(octets.end(), {0U, 6U, (tcp_length >> 8) & 0xFFU, tcp_length & 0xFFU});
  for (std::size_t i = 0; i < segment.size(); ++i) {
    octets.push_back(i == 16 || i == 17 ? 0U : std::to_integer<unsigned>(segment[i]));
  }
  if (octets.size() % 2 != 0) octets.push_back(0);
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < octets.size(); i += 2) sum += (octets[i] << 8) | octets[i + 1];
  while ((sum >> 16) != 0) sum = (sum & 0xFFFFU) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xFFFFU);
}

const Ipv4Address kClient = ip(10, 0, 0, 1);
const Ipv4Address kServer = ip(10, 0, 0, 2);

// The TCP segment of a captured frame (Ethernet 14 + IPv4 20 octets before it).
Bytes tcp_of(const Bytes& frame) { return Bytes(frame.begin() + 34, frame.end()); }

void fix_tcp_checksum(Bytes& segment, Ipv4Address source = kClient, Ipv4Address destination = kServer) {
  set16(segment, 16, reference_tcp_checksum(source, destination, segment));
}

// A bare header (ports 1 -> 2, ACK, window 1000) carrying `options`, zero-padded to whole words
// (zero is End of Option List), then `payload`, with a correct checksum from kClient to kServer.
Bytes segment_with_options(const Bytes& options, const Bytes& payload = {}) {
  Bytes s = bytes({0x00, 0x01, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0x03, 0xe8, 0, 0, 0, 0});
  s.insert(s.end(), options.begin(), options.end());
  while (s.size() % 4 != 0) s.push_back(std::byte{0});
  set8(s, 12, static_cast<unsigned>(s.size() / 4) << 4);
  s.insert(s.end(), payload.begin(), payload.end());
  fix_tcp_checksum(s);
  return s;
}

Result<TcpView> parse_tcp(const Bytes& segment, ChecksumCheck check = ChecksumCheck::verify) {
  return TcpView::parse(segment, kClient, kServer, check);
}

TEST(WireTcp, CapturedChecksumsMatchTheReference) {
  const std::vector<std::pair<const Bytes*, bool>> frames = {
      {&kTcpSyn, true}, {&kTcpSynAck, false}, {&kTcpData, true}, {&kTcpSack, false}};
  for (auto [frame, from_client] : frames) {
    const Bytes segment = tcp_of(*frame);
    const auto [src, dst] = from_client ? std::pair{kClient, kServer} : std::pair{kServer, kClient};
    EXPECT_EQ(load_be16(segment, 16), reference_tcp_checksum(src, dst, segment));
  }
}

TEST(WireTcp, ParsesLinuxSyn) {
  auto ipv4 = Ipv4View::parse(sub(kTcpSyn, 14));
  ASSERT_TRUE(ipv4);
  ASSERT_EQ(ipv4->protocol(), kIpProtocolTcp);
  auto tcp = TcpView::parse(*ipv4);
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->source_port(), 45678);
  EXPECT_EQ(tcp->destination_port(), 80);
  EXPECT_EQ(tcp->sequence_number(), 0x9f3c2a61U);
  EXPECT_EQ(tcp->acknowledgment_number(), 0U);
  EXPECT_EQ(tcp->data_offset(), 10);
  EXPECT_EQ(tcp->header_length(), 40U);
  EXPECT_EQ(tcp->reserved(), 0);
  EXPECT_EQ(tcp->flags(), TcpFlags{.syn = true});
  EXPECT_EQ(tcp->window(), 64240);
  EXPECT_EQ(tcp->checksum(), 0x0271);
  EXPECT_EQ(tcp->urgent_pointer(), 0);
  EXPECT_EQ(tcp->options().size(), 20U);
  EXPECT_TRUE(tcp->payload().empty());

  auto options = TcpOptions::parse(tcp->options());
  ASSERT_TRUE(options);
  EXPECT_EQ(options->mss, 1460);
  EXPECT_TRUE(options->sack_permitted);
  ASSERT_TRUE(options->timestamps);
  EXPECT_EQ(options->timestamps->value, 0x6b1e4f21U);
  EXPECT_EQ(options->timestamps->echo_reply, 0U);
  EXPECT_EQ(options->window_scale, 7);
  EXPECT_EQ(options->effective_window_scale(), 7);
  EXPECT_TRUE(options->sack_blocks().empty());
}

TEST(WireTcp, ParsesSynAckAndData) {
  auto synack = TcpSegment::parse(tcp_of(kTcpSynAck), kServer, kClient);
  ASSERT_TRUE(synack);
  EXPECT_EQ(synack->flags, (TcpFlags{.syn = true, .ack = true}));
  EXPECT_EQ(synack->acknowledgment_number, 0x9f3c2a62U);
  EXPECT_EQ(synack->window, 65160);
  EXPECT_EQ(synack->options.timestamps, (TcpTimestamps{0x0c7d21aa, 0x6b1e4f21}));

  const Bytes data_segment = tcp_of(kTcpData);
  auto data = TcpSegment::parse(data_segment, kClient, kServer);
  ASSERT_TRUE(data);
  EXPECT_EQ(data->flags, (TcpFlags{.psh = true, .ack = true}));
  EXPECT_FALSE(data->options.mss);
  EXPECT_FALSE(data->options.sack_permitted);
  EXPECT_FALSE(data->options.window_scale);
  EXPECT_EQ(data->options.timestamps, (TcpTimestamps{0x6b1e4f2b, 0x0c7d21aa}));
  std::string text;
  for (std::byte c : data->payload) text.push_back(static_cast<char>(c));
  EXPECT_EQ(text, "GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(data->payload.data(), data_segment.data() + 32);
}

TEST(WireTcp, ParsesSackBlocks) {
  auto three = TcpSegment::parse(tcp_of(kTcpSack), kServer, kClient);
  ASSERT_TRUE(three);
  ASSERT_EQ(three->options.sack_blocks().size(), 3U);
  EXPECT_EQ(three->options.sack_blocks()[0], (TcpSackBlock{0x9f3c3000, 0x9f3c3400}));
  EXPECT_EQ(three->options.sack_blocks()[2], (TcpSackBlock{0x9f3c4000, 0x9f3c4400}));

  // Four blocks fill the option space when there are no timestamps (RFC 2018 3): 2 + 4 * 8 = 34.
  Bytes four_blocks = bytes({1, 1, 5, 34});
  for (unsigned i = 1; i <= 8; ++i) {
    const Bytes word = bytes({0, 0, i, 0});
    four_blocks.insert(four_blocks.end(), word.begin(), word.end());
  }
  auto four = TcpOptions::parse(four_blocks);
  ASSERT_TRUE(four);
  ASSERT_EQ(four->sack_blocks().size(), 4U);
  EXPECT_EQ(four->sack_blocks()[3], (TcpSackBlock{0x0700, 0x0800}));
  const Bytes segment = segment_with_options(four_blocks);
  EXPECT_EQ(segment.size(), 56U);
  auto parsed = TcpSegment::parse(segment, kClient, kServer);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->options, *four);
  Bytes out(parsed->length());
  ASSERT_TRUE(parsed->emit(out, kClient, kServer));
  EXPECT_EQ(out, segment);  // NOP NOP SACK: the layout emit uses
}

TEST(WireTcp, WindowScaleAbove14IsUsedAs14) {
  for (unsigned shift : {14U, 15U, 255U}) {
    Bytes syn = tcp_of(kTcpSyn);
    set8(syn, 39, shift);
    fix_tcp_checksum(syn);
    auto segment = TcpSegment::parse(syn, kClient, kServer);
    ASSERT_TRUE(segment) << shift;
    EXPECT_EQ(segment->options.window_scale, shift);  // as received: the caller may log it (RFC 7323 2.3)
    EXPECT_EQ(segment->options.effective_window_scale(), 14);
    Bytes out(segment->length());
    ASSERT_TRUE(segment->emit(out, kClient, kServer));
    EXPECT_EQ(out, syn);
  }
  EXPECT_FALSE(TcpOptions{}.effective_window_scale());
}

TEST(WireTcp, SkipsUnknownOptionsByTheirLength) {
  // MD5 signature (RFC 2385, kind 19, 18 octets), an experimental option (RFC 6994, kind 254), a
  // kind nobody assigned with no data, then MSS and Window Scale: the known ones after are found.
  Bytes options = bytes({19, 18});
  options.resize(18, std::byte{0xAA});
  options.insert(options.end(), {std::byte{254}, std::byte{4}, std::byte{0x12}, std::byte{0x34}});
  options.insert(options.end(), {std::byte{200}, std::byte{2}});
  const Bytes rest = bytes({2, 4, 0x05, 0xb4, 1, 3, 3, 2});
  options.insert(options.end(), rest.begin(), rest.end());
  const Bytes segment = segment_with_options(options);
  auto parsed = TcpSegment::parse(segment, kClient, kServer);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->options.mss, 1460);
  EXPECT_EQ(parsed->options.window_scale, 2);
  EXPECT_FALSE(parsed->options.timestamps);
  // The value keeps only what it knows: emitting it drops the unknown options.
  EXPECT_EQ(parsed->options.length(), 8U);
}

TEST(WireTcp, EndOfListEndsParsing) {
  // After EOL the rest of the header is padding: not even an option that would be malformed is read.
  const Bytes options = bytes({2, 4, 0x02, 0x18, 0, 2, 0, 0xFF, 3, 9, 0xEE, 0xEE});
  auto parsed = TcpOptions::parse(options);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->mss, 536);
  EXPECT_FALSE(parsed->window_scale);
  const Bytes segment = segment_with_options(options);
  EXPECT_TRUE(parse_tcp(segment));
  EXPECT_TRUE(TcpOptions::parse(bytes({0, 0xFF, 0xFF})));
  EXPECT_TRUE(TcpOptions::parse(bytes({1, 1, 1, 0})));  // NOPs alone are a valid (empty) list
  EXPECT_EQ(*TcpOptions::parse({}), TcpOptions{});
}

TEST(WireTcp, RejectsOptionsWhoseLengthLies) {
  // Every kind this parser knows, and one it does not: length 0 and 1 (the list cannot advance),
  // and a length running past the end of the header.
  for (unsigned kind : {2U, 3U, 4U, 5U, 8U, 30U}) {
    for (unsigned length : {0U, 1U}) {
      const Bytes options = bytes({1, kind, length, 0});
      EXPECT_EQ(TcpOptions::parse(options).error(), ParseError::bad_option) << kind << " " << length;
      EXPECT_EQ(parse_tcp(segment_with_options(options)).error(), ParseError::bad_option) << kind << " " << length;
    }
    const Bytes past_end = bytes({1, kind, 8, 0, 0, 0, 0});  // 8 octets claimed, 7 left in the header
    EXPECT_EQ(TcpOptions::parse(past_end).error(), ParseError::bad_option) << kind;
    Bytes segment = segment_with_options(past_end);  // padded to 8 options octets: 1 octet short
    EXPECT_EQ(parse_tcp(segment).error(), ParseError::bad_option) << kind;
    // The data after the header does not count as option space.
    segment = segment_with_options(past_end, bytes({0, 0, 0, 0}));
    EXPECT_EQ(parse_tcp(segment).error(), ParseError::bad_option) << kind;
  }
  // Each known kind with its right length, one octet short of room for it: cut by the end of the
  // header (the list is a whole number of words, so padding cannot lengthen it). For SACK-permitted
  // the length octet itself is missing.
  const std::vector<std::pair<unsigned, std::size_t>> known = {{2, 4}, {3, 3}, {4, 2}, {5, 10}, {8, 10}};
  for (auto [kind, length] : known) {
    const std::size_t size = (length - 1 + 3) / 4 * 4;
    Bytes options(size - (length - 1), std::byte{1});  // NOPs up to where the option starts
    options.push_back(static_cast<std::byte>(kind));
    if (length > 2) options.push_back(static_cast<std::byte>(length));
    options.resize(size, std::byte{0});
    EXPECT_EQ(TcpOptions::parse(options).error(), ParseError::bad_option) << kind;
    EXPECT_EQ(parse_tcp(segment_with_options(options)).error(), ParseError::bad_option) << kind;
  }
}

TEST(WireTcp, RejectsKnownOptionsWithTheWrongLength) {
  const std::vector<Bytes> wrong = {
      bytes({2, 3, 5}),                          // MSS is 4
      bytes({2, 5, 5, 0xb4, 0}),                 //
      bytes({3, 2}),                             // Window Scale is 3
      bytes({3, 4, 7, 0}),                       //
      bytes({4, 3, 0}),                          // SACK-permitted is 2
      bytes({5, 2}),                             // SACK: at least one block
      bytes({5, 9, 0, 0, 0, 0, 0, 0, 0}),        // and whole blocks of 8
      bytes({8, 9, 0, 0, 0, 0, 0, 0, 0}),        // Timestamps is 10
      bytes({8, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0}),  //
  };
  for (const Bytes& options : wrong) {
    const unsigned kind = load_u8(options, 0);
    EXPECT_EQ(TcpOptions::parse(options).error(), ParseError::bad_option) << kind;
    EXPECT_EQ(parse_tcp(segment_with_options(options)).error(), ParseError::bad_option) << kind;
  }
}

TEST(WireTcp, EveryTruncationPoint) {
  const Bytes syn = tcp_of(kTcpSyn);
  for (std::size_t n = 0; n < 20; ++n) {
    auto r = TcpView::parse(sub(syn, 0, n), kClient, kServer, ChecksumCheck::skip);
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error(), ParseError::truncated) << n;
  }
  // From 20 octets the fixed header is there, but Data Offset (10 words) reaches past the end.
  for (std::size_t n = 20; n < syn.size(); ++n) {
    auto r = TcpView::parse(sub(syn, 0, n), kClient, kServer);
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error(), ParseError::bad_data_offset) << n;
  }
}

TEST(WireTcp, RejectsBadDataOffset) {
  Bytes syn = tcp_of(kTcpSyn);
  for (unsigned offset = 0; offset < 5; ++offset) {  // smaller than the fixed fields
    set8(syn, 12, offset << 4);
    fix_tcp_checksum(syn);
    EXPECT_EQ(parse_tcp(syn).error(), ParseError::bad_data_offset) << offset;
    EXPECT_EQ(parse_tcp(syn, ChecksumCheck::skip).error(), ParseError::bad_data_offset) << offset;
  }
  for (unsigned offset : {11U, 14U, 15U}) {  // 44, 56 (16 octets past the 40-octet segment), 60
    set8(syn, 12, offset << 4);
    fix_tcp_checksum(syn);
    EXPECT_EQ(parse_tcp(syn).error(), ParseError::bad_data_offset) << offset;
  }
  // A smaller offset that still lands on an option boundary is a shorter header and a payload.
  set8(syn, 12, 6 << 4);
  fix_tcp_checksum(syn);
  auto shorter = parse_tcp(syn);
  ASSERT_TRUE(shorter);
  EXPECT_EQ(shorter->options().size(), 4U);
  EXPECT_EQ(shorter->payload().size(), 16U);
}

TEST(WireTcp, RejectsBadChecksumUnlessSkipped) {
  const Bytes syn = tcp_of(kTcpSyn);
  EXPECT_TRUE(parse_tcp(syn));
  // One bit off anywhere, the checksum field included. Bit 0 leaves Data Offset (the high nibble of
  // octet 12) alone: there it changes Rsrv, which only the checksum notices.
  for (std::size_t i = 0; i < syn.size(); ++i) {
    Bytes b = syn;
    set8(b, i, load_u8(b, i) ^ 0x01U);
    EXPECT_EQ(parse_tcp(b).error(), ParseError::bad_checksum) << i;
    if (i < 20) {  // past them, a changed option may not parse
      EXPECT_TRUE(parse_tcp(b, ChecksumCheck::skip)) << i;
    }
  }
  // The pseudo-header: other addresses, or the segment cut to another length, change the sum.
  // (Swapped addresses do not: a one's complement sum does not depend on the order of its words.)
  EXPECT_EQ(TcpView::parse(syn, kClient, ip(10, 0, 0, 3)).error(), ParseError::bad_checksum);
  EXPECT_EQ(TcpView::parse(syn, ip(10, 0, 0, 9), kServer).error(), ParseError::bad_checksum);
  const Bytes data = tcp_of(kTcpData);
  EXPECT_EQ(TcpView::parse(sub(data, 0, data.size() - 1), kClient, kServer).error(), ParseError::bad_checksum);
  // Unlike UDP, zero is a checksum like any other (no "not computed").
  Bytes zero = syn;
  set16(zero, 16, 0);
  EXPECT_EQ(parse_tcp(zero).error(), ParseError::bad_checksum);
}

TEST(WireTcp, ChecksOrder) {
  // Lengths first, then the checksum, then the options (which the checksum protects).
  Bytes bad_option = segment_with_options(bytes({2, 0, 0, 0}));
  EXPECT_EQ(parse_tcp(bad_option).error(), ParseError::bad_option);
  set8(bad_option, 15, 0);
  EXPECT_EQ(parse_tcp(bad_option).error(), ParseError::bad_checksum);
  EXPECT_EQ(parse_tcp(bad_option, ChecksumCheck::skip).error(), ParseError::bad_option);
  const Bytes huge(65536);  // more than the pseudo-header's 16-bit TCP Length can describe
  EXPECT_EQ(TcpView::parse(huge, kClient, kServer, ChecksumCheck::skip).error(), ParseError::bad_length);
}

TEST(WireTcp, FlagsAreTheirBits) {
  EXPECT_EQ(TcpFlags{.fin = true}.to_octet(), 0x01);
  EXPECT_EQ(TcpFlags{.syn = true}.to_octet(), 0x02);
  EXPECT_EQ(TcpFlags{.rst = true}.to_octet(), 0x04);
  EXPECT_EQ(TcpFlags{.psh = true}.to_octet(), 0x08);
  EXPECT_EQ(TcpFlags{.ack = true}.to_octet(), 0x10);
  EXPECT_EQ(TcpFlags{.urg = true}.to_octet(), 0x20);
  EXPECT_EQ(TcpFlags{.ece = true}.to_octet(), 0x40);
  EXPECT_EQ(TcpFlags{.cwr = true}.to_octet(), 0x80);
  for (unsigned octet = 0; octet < 256; ++octet) {
    EXPECT_EQ(TcpFlags::from_octet(static_cast<std::uint8_t>(octet)).to_octet(), octet);
  }
  Bytes syn = tcp_of(kTcpSyn);
  set8(syn, 13, 0xC2);  // an ECN-setup SYN (RFC 3168 6.1.1): SYN, ECE, CWR
  EXPECT_EQ(parse_tcp(syn, ChecksumCheck::skip)->flags(), (TcpFlags{.syn = true, .ece = true, .cwr = true}));
}

TEST(WireTcp, CapturedSegmentsRoundTripOctetForOctet) {
  const std::vector<std::pair<const Bytes*, bool>> frames = {
      {&kTcpSyn, true}, {&kTcpSynAck, false}, {&kTcpData, true}, {&kTcpSack, false}};
  for (auto [frame, from_client] : frames) {
    const auto [src, dst] = from_client ? std::pair{kClient, kServer} : std::pair{kServer, kClient};
    auto ipv4 = Ipv4Header::parse(sub(*frame, 14));
    ASSERT_TRUE(ipv4);
    auto tcp = TcpSegment::parse(sub(*frame, 34), src, dst);
    ASSERT_TRUE(tcp);
    EXPECT_EQ(tcp->length(), frame->size() - 34);
    Bytes out(14 + ipv4->length() + tcp->length());
    ASSERT_TRUE(EthernetHeader::parse(*frame)->emit(out));
    ASSERT_TRUE(ipv4->emit(std::span(out).subspan(14)));
    ASSERT_TRUE(tcp->emit(std::span(out).subspan(34), src, dst));
    EXPECT_EQ(out, *frame);
  }
}

TEST(WireTcp, EmitsOptionsInLinuxLayout) {
  TcpOptions syn;
  syn.mss = 1460;
  syn.sack_permitted = true;
  syn.timestamps = TcpTimestamps{0x6b1e4f21, 0};
  syn.window_scale = 7;
  ASSERT_EQ(syn.length(), 20U);
  Bytes out(20);
  ASSERT_EQ(syn.emit(out), 20U);
  EXPECT_TRUE(std::ranges::equal(out, sub(kTcpSyn, 54, 20)));

  // Without timestamps SACK-permitted takes a word of its own.
  syn.timestamps.reset();
  out.assign(syn.length(), std::byte{0xEE});
  ASSERT_EQ(syn.emit(out), 12U);
  EXPECT_EQ(out, bytes({2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7}));

  TcpOptions empty;
  EXPECT_EQ(empty.length(), 0U);
  EXPECT_EQ(empty.emit({}), 0U);
}

TEST(WireTcp, RoundTripsSeveralCombinations) {
  const Bytes odd_payload = bytes({0xde, 0xad, 0xbe, 0xef, 0x42});
  std::vector<TcpSegment> segments;
  TcpSegment rst;  // no options, no data
  rst.source_port = 80;
  rst.destination_port = 45678;
  rst.sequence_number = 0xFFFFFFFF;
  rst.flags = {.rst = true, .ack = true};
  segments.push_back(rst);
  TcpSegment syn_mss_only = rst;  // an old-fashioned SYN (RFC 9293 3.7.1: MSS only)
  syn_mss_only.flags = {.syn = true};
  syn_mss_only.options.mss = 536;
  segments.push_back(syn_mss_only);
  TcpSegment syn_no_timestamps = syn_mss_only;
  syn_no_timestamps.options.sack_permitted = true;
  syn_no_timestamps.options.window_scale = 0;
  segments.push_back(syn_no_timestamps);
  TcpSegment data = rst;  // timestamps and three SACK blocks fill the 40 octets; odd-length data
  data.flags = {.psh = true, .ack = true};
  data.window = 0xFFFF;
  data.options.timestamps = TcpTimestamps{1, 0xFFFFFFFF};
  for (std::uint32_t i = 0; i < 3; ++i) ASSERT_TRUE(data.options.add_sack_block({i * 100, i * 100 + 50}));
  data.payload = odd_payload;
  segments.push_back(data);
  TcpSegment four_sacks = rst;
  four_sacks.flags = {.ack = true};
  for (std::uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(four_sacks.options.add_sack_block({i, 0x80000000U + i}));
  EXPECT_FALSE(four_sacks.options.add_sack_block({9, 10}));
  segments.push_back(four_sacks);
  TcpSegment everything_else = rst;  // the reserved bits and the flags nothing else here sets
  everything_else.flags = {.fin = true, .urg = true, .ece = true, .cwr = true};
  everything_else.reserved = 0x5;
  everything_else.urgent_pointer = 3;
  everything_else.options.window_scale = 15;
  everything_else.payload = odd_payload;
  segments.push_back(everything_else);

  for (const TcpSegment& segment : segments) {
    SCOPED_TRACE(segment.options.length());
    Bytes out(segment.length());
    ASSERT_TRUE(segment.emit(out, kClient, kServer));
    EXPECT_EQ(load_be16(out, 16), reference_tcp_checksum(kClient, kServer, out));
    EXPECT_EQ(segment.header_length() % 4, 0U);
    auto parsed = TcpSegment::parse(out, kClient, kServer);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, segment);
    Bytes again(parsed->length());
    ASSERT_TRUE(parsed->emit(again, kClient, kServer));
    EXPECT_EQ(again, out);
  }
}

TEST(WireTcp, OptionsPackedTighterThanEmitLaysThemOutAreNotReEmitted) {
  // Window Scale, SACK-permitted and four SACK blocks: 3 + 2 + 34 = 39 octets as sent, 4 + 4 + 36
  // = 44 in the word-aligned layout, more than Data Offset can describe. Parse accepts the segment;
  // emit refuses the value rather than write a header that lies.
  Bytes options = bytes({3, 3, 7, 4, 2, 5, 34});
  for (unsigned i = 0; i < 8; ++i) {
    const Bytes word = bytes({0x51, 0xa4, 0xd0 + i, 0});
    options.insert(options.end(), word.begin(), word.end());
  }
  const Bytes segment = segment_with_options(options);
  ASSERT_EQ(segment.size(), 60U);
  auto parsed = TcpSegment::parse(segment, kClient, kServer);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->options.sack_blocks().size(), 4U);
  EXPECT_EQ(parsed->options.length(), 44U);
  Bytes out(parsed->length());
  EXPECT_FALSE(parsed->emit(out, kClient, kServer));
}

TEST(WireTcp, EmitInPlaceAndLimits) {
  // A reply written over the request: the payload is already where emit would copy it.
  Bytes buffer = tcp_of(kTcpData);
  auto request = TcpSegment::parse(buffer, kClient, kServer);
  ASSERT_TRUE(request);
  TcpSegment reply = *request;
  std::swap(reply.source_port, reply.destination_port);
  ASSERT_TRUE(reply.emit(buffer, kServer, kClient));
  auto parsed = TcpSegment::parse(buffer, kServer, kClient);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->source_port, 80);
  EXPECT_TRUE(std::ranges::equal(parsed->payload, sub(kTcpData, 66)));

  TcpSegment s;
  s.options.mss = 1460;
  s.options.timestamps = TcpTimestamps{};
  s.options.window_scale = 7;
  for (std::uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(s.options.add_sack_block({i, i + 1}));
  Bytes out(100, std::byte{0xEE});
  EXPECT_EQ(s.options.length(), 56U);  // over the 40 octets Data Offset can describe
  EXPECT_EQ(s.options.emit(out), 0U);
  EXPECT_FALSE(s.emit(out, kClient, kServer));
  EXPECT_EQ(out, Bytes(100, std::byte{0xEE}));  // nothing written
  s.options.sack_count = 3;
  s.options.timestamps.reset();
  ASSERT_EQ(s.options.length(), 36U);
  EXPECT_TRUE(s.emit(out, kClient, kServer));
  s.options.sack_count = 5;  // set by hand past the array
  EXPECT_FALSE(s.emit(out, kClient, kServer));
  s.options.sack_count = 0;
  Bytes small(s.length() - 1);
  EXPECT_FALSE(s.emit(small, kClient, kServer));
  EXPECT_EQ(s.options.emit(std::span(small).first(s.options.length() - 1)), 0U);
  s.reserved = 0x10;  // wider than Rsrv
  EXPECT_FALSE(s.emit(out, kClient, kServer));
  s.reserved = 0;
  const Bytes huge(65535 - s.header_length() + 1);
  s.payload = huge;
  Bytes big(s.length());
  EXPECT_FALSE(s.emit(big, kClient, kServer));
}

}  // namespace
}  // namespace pktd::wire
