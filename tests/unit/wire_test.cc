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
#include <vector>

#include "wire/arp.h"
#include "wire/checksum.h"
#include "wire/endian.h"
#include "wire/ethernet.h"
#include "wire/icmpv4.h"
#include "wire/ipv4.h"
#include "wire/result.h"
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

}  // namespace
}  // namespace pktd::wire
