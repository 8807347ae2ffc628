// inet/fragment: fragmentation (RFC 791 3.2) checked fragment by fragment, round trips through the
// Reassembler in several orders, and the reassembly policy: duplicates, overlaps (RFC 5722 policy),
// inconsistent ends, the 65535-octet limit, timeouts, and the memory limits under floods.
//
// Payloads are pseudo-random (seeded), so a misplaced or repeated block cannot compare equal.
// Time is a plain TimePoint the tests move by hand. The leak check linked into every unit test
// verifies after each test that every mbuf was freed or returned.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "base/thread_identity.h"
#include "buf/mbuf.h"
#include "inet/fragment.h"
#include "time/clock.h"
#include "wire/endian.h"
#include "wire/ipv4.h"

namespace pktd::inet {
namespace {

using buf::MbufPtr;
using Bytes = std::vector<std::byte>;
using std::chrono::seconds;

constexpr wire::Ipv4Address kSource = wire::Ipv4Address::from_octets(192, 0, 2, 1);
constexpr wire::Ipv4Address kDestination = wire::Ipv4Address::from_octets(198, 51, 100, 2);
const time::TimePoint kT0{seconds(1000)};

// Only known threads may use packet buffers (base/thread_identity.h): the test thread is main.
class MainThread : public ::testing::Environment {
  void SetUp() override { register_current_thread(ThreadKind::main, "fragment-test"); }
};
const auto* const kMainThread = ::testing::AddGlobalTestEnvironment(new MainThread);

// --- building packets ---

Bytes random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng() & 0xFFU);
  return out;
}

struct Spec {
  size_t payload = 100;
  uint16_t id = 0x1234;
  bool dont_fragment = false;
  bool more_fragments = false;
  uint16_t offset = 0;  // 8-octet units
  Bytes options{};
  uint32_t seed = 1;
};

wire::Ipv4Header header_of(const Spec& s) {
  wire::Ipv4Header h;
  h.tos = 0x10;
  h.identification = s.id;
  h.dont_fragment = s.dont_fragment;
  h.more_fragments = s.more_fragments;
  h.fragment_offset = s.offset;
  h.ttl = 61;
  h.protocol = wire::kIpProtocolUdp;
  h.source = kSource;
  h.destination = kDestination;
  h.options = s.options;
  h.payload_length = s.payload;
  return h;
}

// An IPv4 packet: the header of spec, then data.
Bytes packet_bytes(const Spec& s, const Bytes& data) {
  const wire::Ipv4Header h = header_of(s);
  Bytes out(h.length());
  EXPECT_TRUE(h.emit(out));
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

Bytes datagram(const Spec& s) { return packet_bytes(s, random_bytes(s.payload, s.seed)); }

// A hand-made fragment of a datagram whose whole data is `data`: octets [begin, begin + length).
Bytes raw_fragment(const Bytes& data, size_t begin, size_t length, bool more, uint16_t id = 0x1234,
                   const Bytes& options = {}) {
  if (begin + length > data.size()) {
    ADD_FAILURE() << "fragment past the test's data";
    return {};
  }
  Spec s;
  s.id = id;
  s.more_fragments = more;
  s.offset = static_cast<uint16_t>(begin / 8);
  s.options = options;
  s.payload = length;
  const auto first = data.begin() + static_cast<std::ptrdiff_t>(begin);
  return packet_bytes(s, Bytes(first, first + static_cast<std::ptrdiff_t>(length)));
}

MbufPtr to_packet(const Bytes& b) {
  MbufPtr m = buf::packet_from(b);
  EXPECT_TRUE(m);
  return m;
}

// The same packet as a chain whose first mbuf holds only first_length octets (a header split
// across mbufs).
MbufPtr split_packet(const Bytes& b, size_t first_length) {
  MbufPtr head = buf::packet_from(std::span(b).first(first_length));
  MbufPtr rest = buf::packet_from(std::span(b).subspan(first_length));
  rest->has_pkthdr = false;
  head->pkthdr.len = b.size();
  head->next = rest.release();
  return head;
}

std::string str(const Bytes& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

Bytes bytes_of(const buf::Mbuf& m) {
  const std::string s = buf::to_string(m);
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return {p, p + s.size()};
}

// --- checking fragments ---

// RFC 791 3.2, fragment by fragment: a valid packet (checksum, Total Length = pkthdr.len) within
// the mtu, the original's fields, offsets following on, data in multiples of 8 but for the last,
// MF on all but the last (which keeps the original's), the original data in order.
void check_fragments(const std::vector<MbufPtr>& fragments, const Bytes& original, uint32_t mtu) {
  const auto whole = wire::Ipv4View::parse(original);
  ASSERT_TRUE(whole);
  size_t data_at = 0;
  for (size_t i = 0; i < fragments.size(); ++i) {
    SCOPED_TRACE("fragment " + std::to_string(i));
    const Bytes b = bytes_of(*fragments[i]);
    const auto f = wire::Ipv4View::parse(b);
    ASSERT_TRUE(f) << wire::to_string(f.error());
    const bool last = i + 1 == fragments.size();
    EXPECT_EQ(fragments[i]->pkthdr.len, b.size());
    EXPECT_EQ(f->total_length(), b.size());
    EXPECT_LE(b.size(), mtu);
    EXPECT_EQ(f->identification(), whole->identification());
    EXPECT_EQ(f->protocol(), whole->protocol());
    EXPECT_EQ(f->ttl(), whole->ttl());
    EXPECT_EQ(f->tos(), whole->tos());
    EXPECT_EQ(f->source(), whole->source());
    EXPECT_EQ(f->destination(), whole->destination());
    EXPECT_FALSE(f->dont_fragment());
    EXPECT_EQ(size_t{f->fragment_offset()} * 8, size_t{whole->fragment_offset()} * 8 + data_at);
    EXPECT_EQ(f->more_fragments(), last ? whole->more_fragments() : true);
    if (!last) {
      EXPECT_EQ(f->payload().size() % 8, 0u);
    }
    ASSERT_LE(data_at + f->payload().size(), whole->payload().size());
    EXPECT_TRUE(std::ranges::equal(f->payload(), whole->payload().subspan(data_at, f->payload().size())));
    data_at += f->payload().size();
  }
  EXPECT_EQ(data_at, whole->payload().size());
}

std::vector<MbufPtr> fragment_ok(const Bytes& original, uint32_t mtu) {
  std::vector<MbufPtr> out;
  EXPECT_EQ(fragment(to_packet(original), mtu, &out), 0);
  return out;
}

// Feeds fragments in order; only the last may complete the datagram, which is returned.
MbufPtr feed(Reassembler& r, std::vector<MbufPtr> fragments, time::TimePoint now = kT0) {
  MbufPtr done;
  for (size_t i = 0; i < fragments.size(); ++i) {
    MbufPtr out = r.input(std::move(fragments[i]), now);
    if (i + 1 < fragments.size()) {
      EXPECT_FALSE(out) << "completed early, at input " << i;
    } else {
      done = std::move(out);
    }
  }
  return done;
}

MbufPtr input(Reassembler& r, const Bytes& b, time::TimePoint now = kT0) {
  return r.input(to_packet(b), now);
}

// --- fragment() ---

TEST(Fragment, PacketThatFitsIsReturnedUnchanged) {
  const Bytes original = datagram({.payload = 1480});
  MbufPtr packet = to_packet(original);
  const buf::Mbuf* const same = packet.get();
  std::vector<MbufPtr> out;
  ASSERT_EQ(fragment(std::move(packet), 1500, &out), 0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].get(), same);
  EXPECT_EQ(str(bytes_of(*out[0])), str(original));
}

TEST(Fragment, DontFragmentIsEmsgsize) {
  std::vector<MbufPtr> out;
  EXPECT_EQ(fragment(to_packet(datagram({.payload = 1481, .dont_fragment = true})), 1500, &out), EMSGSIZE);
  EXPECT_TRUE(out.empty());
  // DF does not matter when the packet fits.
  EXPECT_EQ(fragment(to_packet(datagram({.payload = 1480, .dont_fragment = true})), 1500, &out), 0);
  EXPECT_EQ(out.size(), 1u);
}

TEST(Fragment, MtuBelowHeaderPlusEightIsEmsgsize) {
  std::vector<MbufPtr> out;
  EXPECT_EQ(fragment(to_packet(datagram({.payload = 100})), 27, &out), EMSGSIZE);
  EXPECT_TRUE(out.empty());
  ASSERT_EQ(fragment(to_packet(datagram({.payload = 100})), 28, &out), 0);  // 8 octets each
  EXPECT_EQ(out.size(), 13u);
}

TEST(Fragment, SizesAroundBoundaries) {
  struct Case {
    size_t payload;
    uint32_t mtu;
    size_t fragments;
  };
  for (const Case c : {Case{1481, 1500, 2}, Case{2960, 1500, 2}, Case{2961, 1500, 3},
                       Case{60000, 1500, 41}, Case{556, 576, 1}, Case{557, 576, 2}, Case{552 * 3, 576, 3},
                       Case{60000, 576, 109}, Case{65515, 1500, 45}, Case{65515, 576, 119}}) {
    SCOPED_TRACE(std::to_string(c.payload) + " octets at mtu " + std::to_string(c.mtu));
    const Bytes original = datagram({.payload = c.payload});
    const std::vector<MbufPtr> fragments = fragment_ok(original, c.mtu);
    EXPECT_EQ(fragments.size(), c.fragments);
    check_fragments(fragments, original, c.mtu);
  }
}

TEST(Fragment, HeaderSplitAcrossMbufs) {
  const Bytes original = datagram({.payload = 3000, .options = Bytes(8, std::byte{1})});
  std::vector<MbufPtr> out;
  ASSERT_EQ(fragment(split_packet(original, 13), 1500, &out), 0);
  check_fragments(out, original, 1500);
}

// Loose Source Route (131, copied) and Record Route (7, not copied), with a NOP in front:
// RFC 791 3.1 says which options go into every fragment.
TEST(Fragment, OnlyCopiedOptionsGoIntoLaterFragments) {
  const Bytes record_route = {std::byte{7}, std::byte{7}, std::byte{4}, std::byte{0},
                              std::byte{0}, std::byte{0}, std::byte{0}};
  const Bytes source_route = {std::byte{131}, std::byte{7}, std::byte{4}, std::byte{10},
                              std::byte{0},   std::byte{0}, std::byte{9}};
  Bytes options = {std::byte{1}};
  options.insert(options.end(), record_route.begin(), record_route.end());
  options.insert(options.end(), source_route.begin(), source_route.end());
  options.push_back(std::byte{0});  // End of Option List: 16 octets
  const Bytes original = datagram({.payload = 3000, .options = options});

  const std::vector<MbufPtr> fragments = fragment_ok(original, 1500);
  check_fragments(fragments, original, 1500);
  ASSERT_EQ(fragments.size(), 3u);  // 1464 + 1472 + 64
  Bytes later = source_route;
  later.push_back(std::byte{0});  // padded to 8 with End of Option List
  for (size_t i = 0; i < fragments.size(); ++i) {
    const Bytes b = bytes_of(*fragments[i]);
    const auto f = wire::Ipv4View::parse(b);
    ASSERT_TRUE(f);
    EXPECT_EQ(str(Bytes(f->options().begin(), f->options().end())), str(i == 0 ? options : later)) << i;
  }
  Reassembler r;
  MbufPtr whole = feed(r, fragment_ok(original, 1500));
  ASSERT_TRUE(whole);
  EXPECT_EQ(str(bytes_of(*whole)), str(original));  // fragment zero's header has every option
}

TEST(Fragment, MalformedOptionListStopsTheCopy) {
  // A copied option, then one whose length (1) is impossible, then a copied option that must not
  // be trusted: only the first is copied.
  const Bytes options = {std::byte{131}, std::byte{3}, std::byte{4}, std::byte{131},
                         std::byte{1},   std::byte{0}, std::byte{0}, std::byte{0}};
  const Bytes original = datagram({.payload = 100, .options = options});
  const std::vector<MbufPtr> fragments = fragment_ok(original, 68);
  check_fragments(fragments, original, 68);
  const Bytes b = bytes_of(*fragments[1]);
  const auto f = wire::Ipv4View::parse(b);
  ASSERT_TRUE(f);
  const Bytes expected = {std::byte{131}, std::byte{3}, std::byte{4}, std::byte{0}};
  EXPECT_EQ(str(Bytes(f->options().begin(), f->options().end())), str(expected));
}

TEST(Fragment, OptionLengthRunningPastTheHeaderIsNotCopied) {
  const Bytes options = {std::byte{1}, std::byte{131}, std::byte{9}, std::byte{4}};
  const Bytes original = datagram({.payload = 100, .options = options});
  const std::vector<MbufPtr> fragments = fragment_ok(original, 68);
  check_fragments(fragments, original, 68);
  const Bytes b = bytes_of(*fragments[1]);
  const auto f = wire::Ipv4View::parse(b);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->header_length(), 20u);
}

TEST(Fragment, FragmentingAFragmentKeepsItsOffsetAndMoreFragments) {
  const Bytes data = random_bytes(4000, 9);
  const Bytes middle = raw_fragment(data, 1480, 1480, true);
  const std::vector<MbufPtr> pieces = fragment_ok(middle, 576);
  check_fragments(pieces, middle, 576);
  ASSERT_EQ(pieces.size(), 3u);
  const Bytes last = bytes_of(*pieces.back());
  EXPECT_TRUE(wire::Ipv4View::parse(last)->more_fragments());
}

TEST(Fragment, KeepsReceiveInterface) {
  MbufPtr packet = to_packet(datagram({.payload = 3000}));
  packet->pkthdr.rcvif = 5;
  std::vector<MbufPtr> out;
  ASSERT_EQ(fragment(std::move(packet), 1500, &out), 0);
  for (const auto& f : out) EXPECT_EQ(f->pkthdr.rcvif, 5u);
}

// A pool too small for the fragments; the default configuration comes back after the test's
// buffers are gone.
class SmallPool : public ::testing::Test {
 protected:
  void SetUp() override {
    buf::PoolConfig small;
    small.max_mbufs = 80;
    small.max_clusters = 40;
    ASSERT_TRUE(buf::Pool::instance().configure(small));
  }
  void TearDown() override { EXPECT_TRUE(buf::Pool::instance().configure(buf::PoolConfig{})); }
};

// Fails for want of buffers: nothing added to *out (what was there stays), nothing leaked.
TEST_F(SmallPool, FragmentOutOfBuffersIsEnobufs) {
  std::vector<MbufPtr> out;
  out.push_back(to_packet(datagram({.payload = 10})));
  EXPECT_EQ(fragment(to_packet(datagram({.payload = 60000})), 576, &out), ENOBUFS);
  EXPECT_EQ(out.size(), 1u);
}

// --- round trips ---

enum class Order { in_order, reversed, shuffled };

using RoundTripParam = std::tuple<size_t, uint32_t, Order>;

class RoundTrip : public ::testing::TestWithParam<RoundTripParam> {};

TEST_P(RoundTrip, ReassemblesByteForByte) {
  const auto [payload, mtu, order] = GetParam();
  const Bytes original = datagram({.payload = payload, .seed = static_cast<uint32_t>(payload)});
  std::vector<MbufPtr> fragments = fragment_ok(original, mtu);
  check_fragments(fragments, original, mtu);
  if (order == Order::reversed) std::reverse(fragments.begin(), fragments.end());
  if (order == Order::shuffled) std::shuffle(fragments.begin(), fragments.end(), std::mt19937(42));

  // 65535 octets at mtu 576 take 119 fragments, more than the default max_fragments (64).
  Reassembler r({.max_fragments = 128});
  if (fragments.size() == 1) {  // not a fragment: input hands it back as it is
    MbufPtr same = r.input(std::move(fragments[0]), kT0);
    ASSERT_TRUE(same);
    EXPECT_EQ(str(bytes_of(*same)), str(original));
    EXPECT_EQ(r.stats().fragments, 0u);
    return;
  }
  const size_t count = fragments.size();
  MbufPtr whole = feed(r, std::move(fragments));
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->pkthdr.len, original.size());
  EXPECT_EQ(str(bytes_of(*whole)), str(original));
  EXPECT_TRUE(wire::Ipv4View::parse(bytes_of(*whole)));
  EXPECT_EQ(r.stats().fragments, count);
  EXPECT_EQ(r.stats().reassembled, 1u);
  EXPECT_EQ(r.queues(), 0u);
  EXPECT_EQ(r.bytes(), 0u);
  EXPECT_FALSE(r.next_expiry());
}

std::string round_trip_name(const ::testing::TestParamInfo<RoundTripParam>& info) {
  const auto [payload, mtu, order] = info.param;
  const char* names[] = {"in_order", "reversed", "shuffled"};
  return std::to_string(payload) + "_mtu" + std::to_string(mtu) + "_" + names[static_cast<int>(order)];
}

INSTANTIATE_TEST_SUITE_P(Sizes, RoundTrip,
                         ::testing::Combine(::testing::Values(size_t{1}, size_t{556}, size_t{557},
                                                              size_t{1480}, size_t{1481},
                                                              size_t{60000}, size_t{65515}),
                                            ::testing::Values(1500u, 576u),
                                            ::testing::Values(Order::in_order, Order::reversed,
                                                              Order::shuffled)),
                         round_trip_name);

TEST(Reassembler, RefragmentedPiecesReassemble) {
  const Bytes original = datagram({.payload = 20000, .seed = 3});
  std::vector<MbufPtr> pieces;
  for (MbufPtr& f : fragment_ok(original, 1500)) {
    ASSERT_EQ(fragment(std::move(f), 576, &pieces), 0);
  }
  std::shuffle(pieces.begin(), pieces.end(), std::mt19937(7));
  Reassembler r;
  MbufPtr whole = feed(r, std::move(pieces));
  ASSERT_TRUE(whole);
  EXPECT_EQ(str(bytes_of(*whole)), str(original));
}

TEST(Reassembler, InterleavedDatagramsAndSplitHeaders) {
  const Bytes a = datagram({.payload = 5000, .id = 1, .seed = 11});
  const Bytes b = datagram({.payload = 5000, .id = 2, .seed = 12});
  std::vector<MbufPtr> fa = fragment_ok(a, 1500);
  std::vector<MbufPtr> fb = fragment_ok(b, 1500);
  Reassembler r;
  for (size_t i = 0; i + 1 < fa.size(); ++i) {
    EXPECT_FALSE(r.input(split_packet(bytes_of(*fa[i]), 7), kT0));
    EXPECT_FALSE(r.input(std::move(fb[i]), kT0));
  }
  EXPECT_EQ(r.queues(), 2u);
  MbufPtr whole_b = r.input(std::move(fb.back()), kT0);
  MbufPtr whole_a = r.input(std::move(fa.back()), kT0);
  ASSERT_TRUE(whole_a);
  ASSERT_TRUE(whole_b);
  EXPECT_EQ(str(bytes_of(*whole_a)), str(a));
  EXPECT_EQ(str(bytes_of(*whole_b)), str(b));
}

TEST(Reassembler, KeepsFragmentZerosInterface) {
  std::vector<MbufPtr> fragments = fragment_ok(datagram({.payload = 3000}), 1500);
  fragments[0]->pkthdr.rcvif = 3;
  fragments[1]->pkthdr.rcvif = 4;
  std::reverse(fragments.begin(), fragments.end());
  Reassembler r;
  MbufPtr whole = feed(r, std::move(fragments));
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->pkthdr.rcvif, 3u);
}

// --- duplicates and overlaps ---

TEST(Reassembler, ExactDuplicateIsDroppedAndTheDatagramKept) {
  const Bytes original = datagram({.payload = 4000});
  std::vector<MbufPtr> fragments = fragment_ok(original, 1500);
  Reassembler r;
  MbufPtr copy = buf::dup(*fragments[1]);
  EXPECT_FALSE(r.input(std::move(fragments[1]), kT0));
  EXPECT_FALSE(r.input(std::move(copy), kT0));
  EXPECT_EQ(r.stats().duplicates, 1u);
  EXPECT_EQ(r.queues(), 1u);
  EXPECT_FALSE(r.input(std::move(fragments[0]), kT0));
  MbufPtr whole = r.input(std::move(fragments[2]), kT0);
  ASSERT_TRUE(whole);
  EXPECT_EQ(str(bytes_of(*whole)), str(original));
  EXPECT_EQ(r.stats().overlaps, 0u);
}

TEST(Reassembler, OverlapDropsTheWholeDatagram) {
  const Bytes data = random_bytes(4000, 5);
  struct Case {
    size_t begin, length;
    bool more;
  };
  // Held: [0, 1480) and [2960, 4000) (last). Each case overlaps one of them.
  for (const Case c : {Case{8, 16, true}, Case{0, 1488, true}, Case{1472, 16, true},
                       Case{2952, 16, true}, Case{3000, 1000, false}, Case{0, 2968, true}}) {
    SCOPED_TRACE(std::to_string(c.begin) + "+" + std::to_string(c.length));
    Reassembler r;
    EXPECT_FALSE(input(r, raw_fragment(data, 0, 1480, true)));
    EXPECT_FALSE(input(r, raw_fragment(data, 2960, 1040, false)));
    EXPECT_FALSE(input(r, raw_fragment(data, c.begin, c.length, c.more)));
    EXPECT_EQ(r.stats().overlaps, 1u);
    EXPECT_EQ(r.queues(), 0u);
    EXPECT_EQ(r.bytes(), 0u);
    // The missing middle alone cannot complete anything now.
    EXPECT_FALSE(input(r, raw_fragment(data, 1480, 1480, true)));
    EXPECT_EQ(r.stats().reassembled, 0u);
  }
}

// --- inconsistent fragments ---

TEST(Reassembler, DataBeyondAKnownEndDropsTheDatagram) {
  const Bytes data = random_bytes(4000, 6);
  Reassembler r;
  EXPECT_FALSE(input(r, raw_fragment(data, 1480, 520, false)));  // ends at 2000
  EXPECT_FALSE(input(r, raw_fragment(data, 2000, 8, true)));
  EXPECT_EQ(r.stats().bad_fragment, 1u);
  EXPECT_EQ(r.queues(), 0u);
  EXPECT_EQ(r.bytes(), 0u);
}

TEST(Reassembler, SecondDifferentLastFragmentDropsTheDatagram) {
  const Bytes data = random_bytes(4000, 6);
  Reassembler r;
  EXPECT_FALSE(input(r, raw_fragment(data, 2960, 1040, false)));
  EXPECT_FALSE(input(r, raw_fragment(data, 1480, 1480, false)));  // a different end, no overlap
  EXPECT_EQ(r.stats().bad_fragment, 1u);
  EXPECT_EQ(r.queues(), 0u);
}

TEST(Reassembler, LastFragmentBeforeDataHeldDropsTheDatagram) {
  const Bytes data = random_bytes(4000, 6);
  Reassembler r;
  EXPECT_FALSE(input(r, raw_fragment(data, 2960, 1040, true)));
  EXPECT_FALSE(input(r, raw_fragment(data, 1480, 1480, false)));
  EXPECT_EQ(r.stats().bad_fragment, 1u);
  EXPECT_EQ(r.queues(), 0u);
}

// Ipv4View::parse would reject these; the Reassembler does not rely on it.
TEST(Reassembler, MalformedFragmentsAreDropped) {
  const Bytes data = random_bytes(100, 6);
  Reassembler r;
  EXPECT_FALSE(input(r, raw_fragment(data, 0, 12, true)));  // MF with data not a multiple of 8
  EXPECT_FALSE(input(r, raw_fragment(data, 8, 0, true)));   // empty
  Bytes lying = raw_fragment(data, 0, 16, true);
  wire::store_be16(lying, 2, 200);  // Total Length beyond the packet
  EXPECT_FALSE(input(r, lying));
  EXPECT_EQ(r.stats().bad_fragment, 3u);
  EXPECT_EQ(r.stats().fragments, 3u);
  EXPECT_EQ(r.queues(), 0u);
}

TEST(Reassembler, WholeDatagramIsHandedBack) {
  const Bytes original = datagram({.payload = 100});
  Reassembler r;
  MbufPtr same = input(r, original);
  ASSERT_TRUE(same);
  EXPECT_EQ(str(bytes_of(*same)), str(original));
  EXPECT_EQ(r.queues(), 0u);
}

// --- 65535 octets ---

// Each fragment is valid alone (offset * 8 + data + its 20-octet header <= 65535), but fragment
// zero carries 40 octets of options: reassembled, the datagram would be 65575 octets.
TEST(Reassembler, ReassembledOver65535IsDropped) {
  const Bytes data = random_bytes(65515, 8);
  const Bytes options(40, std::byte{1});
  Reassembler r;
  EXPECT_FALSE(input(r, raw_fragment(data, 64000, 1515, false)));
  EXPECT_EQ(r.queues(), 1u);
  EXPECT_FALSE(input(r, raw_fragment(data, 0, 1400, true, 0x1234, options)));
  EXPECT_EQ(r.stats().bad_fragment, 1u);
  EXPECT_EQ(r.queues(), 0u);
  EXPECT_EQ(r.bytes(), 0u);
}

TEST(Reassembler, FragmentEndingPast65535IsDropped) {
  const Bytes data = random_bytes(65536, 8);
  Reassembler r;
  EXPECT_FALSE(input(r, raw_fragment(data, 0, 1480, true)));
  EXPECT_FALSE(input(r, raw_fragment(data, 65512, 24, false)));  // 65536 + 20 octets
  EXPECT_EQ(r.stats().bad_fragment, 1u);
  EXPECT_EQ(r.queues(), 0u);
}

// --- timeouts ---

TEST(Reassembler, TimeoutHandsOutFragmentZero) {
  const Bytes original = datagram({.payload = 4000});
  std::vector<MbufPtr> fragments = fragment_ok(original, 1500);
  const Bytes zero = bytes_of(*fragments[0]);
  Reassembler r;
  EXPECT_FALSE(r.input(std::move(fragments[0]), kT0));
  EXPECT_FALSE(r.input(std::move(fragments[1]), kT0 + seconds(20)));  // the timer does not restart
  ASSERT_TRUE(r.next_expiry());
  EXPECT_EQ(*r.next_expiry(), kT0 + seconds(30));

  std::vector<MbufPtr> first;
  EXPECT_EQ(r.expire(kT0 + seconds(29), &first), 0u);
  EXPECT_EQ(r.expire(kT0 + seconds(30), &first), 1u);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(str(bytes_of(*first[0])), str(zero));
  EXPECT_EQ(r.stats().timeouts, 1u);
  EXPECT_EQ(r.queues(), 0u);
  EXPECT_EQ(r.bytes(), 0u);
  EXPECT_FALSE(r.next_expiry());
  // The last fragment now starts a new datagram, which cannot complete.
  EXPECT_FALSE(r.input(std::move(fragments[2]), kT0 + seconds(31)));
  EXPECT_EQ(r.queues(), 1u);
}

TEST(Reassembler, TimeoutWithoutFragmentZeroHandsOutNothing) {
  std::vector<MbufPtr> fragments = fragment_ok(datagram({.payload = 4000}), 1500);
  Reassembler r({.timeout = seconds(60)});
  EXPECT_FALSE(r.input(std::move(fragments[2]), kT0));
  EXPECT_FALSE(r.input(std::move(fragments[1]), kT0));
  std::vector<MbufPtr> first;
  EXPECT_EQ(r.expire(kT0 + seconds(60), &first), 1u);
  EXPECT_TRUE(first.empty());
  EXPECT_EQ(r.stats().timeouts, 1u);
}

TEST(Reassembler, ExpiresInDeadlineOrder) {
  const Bytes data = random_bytes(1480, 2);
  Reassembler r;
  EXPECT_FALSE(input(r, raw_fragment(data, 0, 1480, true, 2), kT0 + seconds(5)));
  EXPECT_FALSE(input(r, raw_fragment(data, 0, 1480, true, 1), kT0));
  EXPECT_EQ(*r.next_expiry(), kT0 + seconds(30));
  EXPECT_EQ(r.expire(kT0 + seconds(30)), 1u);  // without a vector: fragment zero is freed
  EXPECT_EQ(*r.next_expiry(), kT0 + seconds(35));
  EXPECT_EQ(r.queues(), 1u);
  r.clear();
  EXPECT_EQ(r.queues(), 0u);
  EXPECT_EQ(r.bytes(), 0u);
  EXPECT_FALSE(r.next_expiry());
}

// --- limits ---

TEST(Reassembler, MaxQueuesHoldsUnderAFloodOfIdentifications) {
  const Bytes data = random_bytes(64, 4);
  Reassembler r({.max_queues = 16});
  for (uint16_t id = 0; id < 5000; ++id) {
    EXPECT_FALSE(input(r, raw_fragment(data, 0, 64, true, id)));
    ASSERT_LE(r.queues(), 16u);
  }
  EXPECT_EQ(r.queues(), 16u);
  EXPECT_EQ(r.stats().over_limit, 5000u - 16u);
  // Once their timer has run out, the flood's datagrams make room for a new one.
  EXPECT_FALSE(input(r, raw_fragment(data, 0, 64, true, 60000), kT0 + seconds(30)));
  EXPECT_EQ(r.stats().timeouts, 16u);
  EXPECT_EQ(r.queues(), 1u);
}

TEST(Reassembler, MaxBytesHoldsUnderAFloodOfIdentifications) {
  const Bytes data = random_bytes(2960, 4);
  const size_t limit = 64 * 1024;
  Reassembler r({.max_bytes = limit});
  // Each fragment is charged for the buffers it pins (more than its 1500 octets).
  EXPECT_FALSE(input(r, raw_fragment(data, 0, 1480, true, 0)));
  const size_t charge = r.bytes();
  ASSERT_GE(charge, 1500u);
  for (uint16_t id = 1; id < 5000; ++id) {
    EXPECT_FALSE(input(r, raw_fragment(data, 0, 1480, true, id)));
    ASSERT_LE(r.bytes(), limit);
  }
  const size_t fit = limit / charge;
  EXPECT_EQ(r.queues(), fit);
  EXPECT_EQ(r.bytes(), fit * charge);
  EXPECT_EQ(r.stats().over_limit, 5000u - fit);

  // A datagram that would grow past the limit is dropped whole: it cannot complete anyway.
  EXPECT_FALSE(input(r, raw_fragment(data, 1480, 1480, true, 0)));
  EXPECT_EQ(r.queues(), fit - 1);
  // After the timeout, the held datagrams make room and a datagram completes again.
  const Bytes original = datagram({.payload = 3000, .id = 9999});
  MbufPtr whole = feed(r, fragment_ok(original, 1500), kT0 + seconds(30));
  ASSERT_TRUE(whole);
  EXPECT_EQ(str(bytes_of(*whole)), str(original));
  EXPECT_EQ(r.bytes(), 0u);
}

TEST(Reassembler, MaxFragmentsDropsTheDatagram) {
  const Bytes data = random_bytes(1000, 4);
  Reassembler r({.max_fragments = 8});
  for (size_t i = 0; i < 8; ++i) EXPECT_FALSE(input(r, raw_fragment(data, i * 8, 8, true)));
  EXPECT_EQ(r.queues(), 1u);
  EXPECT_FALSE(input(r, raw_fragment(data, 64, 8, true)));
  EXPECT_EQ(r.stats().over_limit, 1u);
  EXPECT_EQ(r.queues(), 0u);
  EXPECT_EQ(r.bytes(), 0u);
}

TEST(Reassembler, FloodOfTinyFragmentsStaysWithinEveryLimit) {
  const Bytes data = random_bytes(65536, 4);
  const ReassemblyConfig config{.max_bytes = 32 * 1024, .max_queues = 64, .max_fragments = 16};
  Reassembler r(config);
  std::mt19937 rng(1234);
  for (int i = 0; i < 20000; ++i) {
    const auto id = static_cast<uint16_t>(rng() % 200);
    const size_t begin = (rng() % 8000) * 8;
    EXPECT_FALSE(input(r, raw_fragment(data, begin, 8, true, id)));
    ASSERT_LE(r.bytes(), config.max_bytes);
    ASSERT_LE(r.queues(), config.max_queues);
  }
  const ReassemblyStats& s = r.stats();
  EXPECT_EQ(s.fragments, 20000u);
  EXPECT_GT(s.over_limit, 0u);
  EXPECT_EQ(s.reassembled, 0u);
  r.clear();
  EXPECT_EQ(r.bytes(), 0u);
}

}  // namespace
}  // namespace pktd::inet
