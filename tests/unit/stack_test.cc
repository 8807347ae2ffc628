// The IPv4 stack end to end, without a runtime: two stacks (A and B), each with its own
// interfaces (lo0 and an Ethernet interface), joined by an in-memory wire, driven by a manual
// clock (tests/support/test_env.h). Nothing sleeps; time moves only by advance().
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <set>
#include <vector>

#include "base/log.h"
#include "base/thread_identity.h"
#include "inet/route.h"
#include "inet/stack.h"
#include "net/interfaces.h"
#include "tests/support/test_env.h"
#include "wire/arp.h"
#include "wire/ethernet.h"
#include "wire/icmpv4.h"
#include "wire/ipv4.h"
#include "wire/udp.h"

namespace pktd::inet {
namespace {

using namespace std::chrono_literals;
using test::TestEnv;
using test::TestWire;

constexpr Ipv4Address ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return Ipv4Address::from_octets(a, b, c, d);
}

constexpr Ipv4Address kA = ip(198, 18, 1, 1);
constexpr Ipv4Address kB = ip(198, 18, 1, 2);
constexpr Ipv4Address kNobody = ip(198, 18, 1, 99);
constexpr Ipv4Address kSubnetBroadcast = ip(198, 18, 1, 255);
constexpr net::Mac kMacA{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a};
constexpr net::Mac kMacB{0x02, 0x00, 0x00, 0x00, 0x00, 0x0b};
constexpr uint16_t kPingId = 0x4242;

// --- reading frames off the wire ---

std::span<const std::byte> bytes_of(const std::string& s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

std::optional<wire::EthernetView> ether(const std::string& frame) {
  auto e = wire::EthernetView::parse(bytes_of(frame));
  if (!e) return std::nullopt;
  return *e;
}

std::optional<wire::ArpView> arp(const std::string& frame) {
  auto e = ether(frame);
  if (!e || e->ethertype() != wire::kEthertypeArp) return std::nullopt;
  auto a = wire::ArpView::parse(e->payload());
  if (!a) return std::nullopt;
  return *a;
}

bool is_arp_request_for(const std::string& frame, Ipv4Address target) {
  auto a = arp(frame);
  return a && a->operation() == wire::ArpOperation::request && a->target_ip() == target &&
         a->sender_ip() != target;
}

bool is_arp_reply_from(const std::string& frame, Ipv4Address sender) {
  auto a = arp(frame);
  return a && a->operation() == wire::ArpOperation::reply && a->sender_ip() == sender;
}

bool is_announcement(const std::string& frame, Ipv4Address address) {
  auto a = arp(frame);
  return a && a->operation() == wire::ArpOperation::request && a->sender_ip() == address &&
         a->target_ip() == address;
}

std::optional<wire::Ipv4View> ipv4(const std::string& frame) {
  auto e = ether(frame);
  if (!e || e->ethertype() != wire::kEthertypeIpv4) return std::nullopt;
  auto v = wire::Ipv4View::parse(e->payload());
  if (!v) return std::nullopt;
  return *v;
}

bool is_fragment(const std::string& frame) {
  auto v = ipv4(frame);
  return v && v->is_fragment();
}

// An ICMP message of this type (and code, unless -1) that is not a non-first fragment.
bool is_icmp(const std::string& frame, uint8_t type, int code = -1) {
  auto v = ipv4(frame);
  if (!v || v->protocol() != wire::kIpProtocolIcmp || v->fragment_offset() != 0) return false;
  auto m = wire::Icmpv4View::parse(v->payload(), wire::ChecksumCheck::skip);
  return m && m->type() == type && (code < 0 || m->code() == code);
}

uint64_t stat(const Stack& s, const std::string& group, const std::string& name) {
  auto all = s.statistics();
  auto g = all.find(group);
  if (g == all.end()) {
    ADD_FAILURE() << "no counter group " << group;
    return 0;
  }
  auto c = g->second.find(name);
  if (c == g->second.end()) {
    ADD_FAILURE() << "no counter " << group << "." << name;
    return 0;
  }
  return c->second;
}

std::span<const std::byte> text(const std::string& s) { return bytes_of(s); }

// An Ethernet frame from B's MAC to A's carrying an ICMP echo request, every checksum right.
std::string echo_frame(Ipv4Address src, Ipv4Address dst, uint16_t sequence,
                       std::span<const std::byte> options = {}) {
  std::vector<std::byte> data(8, std::byte{0x5a});
  auto icmp = wire::Icmpv4Message::echo(8, 0x7777, sequence, data);
  wire::Ipv4Header h;
  h.identification = sequence;
  h.protocol = wire::kIpProtocolIcmp;
  h.source = src;
  h.destination = dst;
  h.options = options;
  h.payload_length = icmp.length();
  wire::EthernetHeader eth{MacAddress{kMacA}, MacAddress{kMacB}, std::nullopt,
                           wire::kEthertypeIpv4};
  std::string out(eth.length() + h.total_length(), '\0');
  auto bytes = std::as_writable_bytes(std::span<char>(out.data(), out.size()));
  EXPECT_TRUE(eth.emit(bytes));
  EXPECT_TRUE(h.emit(bytes.subspan(eth.length())));
  EXPECT_TRUE(icmp.emit(bytes.subspan(eth.length() + h.length())));
  return out;
}

// --- the test environment itself ---

void count_call(void* arg) { ++*static_cast<int*>(arg); }

TEST(TestEnvTest, RunsPostedWorkAndTimersAtTheirTime) {
  TestEnv env;
  int posted = 0;
  env.post([&] {
    ++posted;
    env.post([&] { ++posted; });  // work posted by work runs in the same run()
  });
  EXPECT_EQ(posted, 0);
  env.run();
  EXPECT_EQ(posted, 2);

  time::Callout c;
  env.timer_init(c);
  int fired = 0;
  const time::TimePoint start = env.now();
  env.timer_arm(c, 250, count_call, &fired);
  env.run();
  EXPECT_EQ(fired, 0);
  env.advance(249ms);
  EXPECT_EQ(fired, 0);
  env.advance(1ms);
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(env.now() - start, 250ms);
  env.timer_arm(c, 0, count_call, &fired);  // due at once
  env.run();
  EXPECT_EQ(fired, 2);
  env.timer_arm(c, 100, count_call, &fired);
  EXPECT_TRUE(env.timer_stop(c));
  env.advance(1s);
  EXPECT_EQ(fired, 2);
  EXPECT_EQ(env.wall_clock_ns(), TestEnv::kWallEpochNs + env.now().time_since_epoch().count());
}

struct Rearming {
  TestEnv* env;
  time::Callout c;
  std::vector<time::TimePoint> at;
  static void fire(void* arg) {
    auto* self = static_cast<Rearming*>(arg);
    self->at.push_back(self->env->now());
    if (self->at.size() < 5) self->env->timer_arm(self->c, 100, fire, self);
  }
};

TEST(TestEnvTest, AdvanceStopsAtEveryDeadline) {
  TestEnv env;
  Rearming r{&env, {}, {}};
  env.timer_init(r.c);
  const time::TimePoint start = env.now();
  env.timer_arm(r.c, 100, Rearming::fire, &r);
  env.advance(10s);  // one call; the callout re-arms itself from its own time each time
  ASSERT_EQ(r.at.size(), 5u);
  for (size_t i = 0; i < r.at.size(); ++i)
    EXPECT_EQ(r.at[i] - start, std::chrono::milliseconds(100 * (i + 1)));
  EXPECT_EQ(env.now() - start, 10s);
}

// --- the two hosts ---

class StackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    register_current_thread(ThreadKind::main, "stack-test");
    build(StackConfig{});
  }
  void TearDown() override { teardown(); }

  // Two hosts on 198.18.1.0/24, addresses set, wire log cleared.
  void build(const StackConfig& config_a, std::optional<StackConfig> config_b = std::nullopt) {
    teardown();
    env = std::make_unique<TestEnv>();
    wire = std::make_unique<TestWire>();
    wire->set_clock(&env->clock());
    ifs_a = std::make_unique<net::Interfaces>();
    ifs_b = std::make_unique<net::Interfaces>();
    lo_a = net::attach_loopback(*ifs_a);
    lo_b = net::attach_loopback(*ifs_b);
    a = std::make_unique<Stack>(*env, *ifs_a, config_a);
    b = std::make_unique<Stack>(*env, *ifs_b, config_b.value_or(config_a));
    eth_a = ifs_a->attach("eth", 0, wire->config(0, kMacA));
    eth_b = ifs_b->attach("eth", 0, wire->config(1, kMacB));
    ASSERT_NE(eth_a, nullptr);
    ASSERT_NE(eth_b, nullptr);
    ASSERT_EQ(eth_a->set_up(true), 0);
    ASSERT_EQ(eth_b->set_up(true), 0);
    eth_a->set_link_state(net::LinkState::up);
    eth_b->set_link_state(net::LinkState::up);
    ASSERT_EQ(a->add_address(eth_a->index(), {kA, 24}, false), 0);
    ASSERT_EQ(b->add_address(eth_b->index(), {kB, 24}, false), 0);
    env->run();
    wire->clear_log();
    ASSERT_EQ(a->listen_echo(kPingId, [this](const EchoEvent& e) { events.push_back(e); }), 0);
  }

  // Stacks first (they hold frames and ARP queues), then the interfaces (their send queues and
  // drivers), then the wire the drivers point into, then the clock and wheel.
  void teardown() {
    b.reset();
    a.reset();
    ifs_b.reset();
    ifs_a.reset();
    wire.reset();
    if (env) env->discard_posted();
    env.reset();
    events.clear();
  }

  uint32_t ia() const { return eth_a->index(); }
  uint32_t ib() const { return eth_b->index(); }

  // Resolves A <-> B with one ping and forgets the traffic.
  // A frame as A's interface receives it from the wire, and everything it causes.
  void deliver(const std::string& frame) {
    buf::MbufPtr m = buf::packet_from(bytes_of(frame));
    ASSERT_TRUE(m);
    eth_a->input(std::move(m));
    env->run();
  }

  void ping_once() {
    ASSERT_EQ(a->send_echo(kB, kPingId, 999, 56, 0), 0);
    env->run();
    ASSERT_EQ(events.size(), 1u);
    events.clear();
    wire->clear_log();
  }

  size_t frames_from(int end, bool (*pred)(const std::string&)) const {
    return wire->count([&](const TestWire::Frame& f) { return f.from == end && pred(f.bytes); });
  }
  template <typename Pred>
  size_t count(int end, Pred pred) const {
    return wire->count([&](const TestWire::Frame& f) { return f.from == end && pred(f.bytes); });
  }

  std::unique_ptr<TestEnv> env;
  std::unique_ptr<TestWire> wire;
  std::unique_ptr<net::Interfaces> ifs_a, ifs_b;
  std::unique_ptr<Stack> a, b;
  net::Ifnet* lo_a = nullptr;
  net::Ifnet* lo_b = nullptr;
  net::Ifnet* eth_a = nullptr;
  net::Ifnet* eth_b = nullptr;
  std::vector<EchoEvent> events;
};

// --- ping and ARP ---

TEST_F(StackTest, PingResolvesArpOnBothSides) {
  ASSERT_EQ(a->send_echo(kB, kPingId, 1, 56, 0), 0);
  EXPECT_TRUE(events.empty());  // nothing happens until the world runs
  env->run();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].sequence, 1);
  EXPECT_EQ(events[0].from, kB);
  EXPECT_FALSE(events[0].error);
  EXPECT_EQ(events[0].ttl, 64);
  EXPECT_EQ(events[0].icmp_bytes, 64u);
  EXPECT_EQ(events[0].when, env->now());

  ArpEntry* on_a = a->arp_cache().find(ia(), kB);
  ASSERT_NE(on_a, nullptr);
  EXPECT_EQ(on_a->state, ArpState::reachable);
  EXPECT_EQ(on_a->mac, MacAddress{kMacB});
  ArpEntry* on_b = b->arp_cache().find(ib(), kA);  // RFC 826: B learnt A from its request
  ASSERT_NE(on_b, nullptr);
  EXPECT_EQ(on_b->state, ArpState::reachable);
  EXPECT_EQ(on_b->mac, MacAddress{kMacA});

  auto request_for_b = [](const std::string& f) { return is_arp_request_for(f, kB); };
  auto reply_from_b = [](const std::string& f) { return is_arp_reply_from(f, kB); };
  EXPECT_EQ(count(0, request_for_b), 1u);
  EXPECT_EQ(count(1, reply_from_b), 1u);
  EXPECT_EQ(frames_from(0, [](const std::string& f) { return is_icmp(f, 8, 0); }), 1u);
  EXPECT_EQ(frames_from(1, [](const std::string& f) { return is_icmp(f, 0, 0); }), 1u);
  EXPECT_EQ(stat(*a, "icmp", "echo_replies_received"), 1u);
  EXPECT_EQ(stat(*b, "icmp", "echo_replies_sent"), 1u);
  EXPECT_EQ(stat(*a, "arp", "entries"), 1u);

  // A second ping needs no ARP.
  ASSERT_EQ(a->send_echo(kB, kPingId, 2, 56, 0), 0);
  env->run();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].sequence, 2);
  EXPECT_EQ(count(0, request_for_b), 1u);
}

TEST_F(StackTest, ArpEntriesExpireAfterReachableTimeAndResolveAgain) {
  a->set_arp_reachable_time(30s);
  b->set_arp_reachable_time(30s);
  ping_once();
  ASSERT_NE(a->arp_cache().find(ia(), kB), nullptr);
  ASSERT_NE(b->arp_cache().find(ib(), kA), nullptr);

  env->advance(29s);
  EXPECT_NE(a->arp_cache().find(ia(), kB), nullptr);
  EXPECT_NE(b->arp_cache().find(ib(), kA), nullptr);
  env->advance(1200ms);
  EXPECT_EQ(a->arp_cache().find(ia(), kB), nullptr);
  EXPECT_EQ(b->arp_cache().find(ib(), kA), nullptr);
  EXPECT_EQ(a->arp_cache().size(), 0u);
  EXPECT_EQ(stat(*a, "arp", "entries_expired"), 1u);
  EXPECT_EQ(stat(*b, "arp", "entries_expired"), 1u);
  EXPECT_TRUE(wire->log().empty());  // expiry sends nothing

  ASSERT_EQ(a->send_echo(kB, kPingId, 3, 56, 0), 0);
  env->run();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].sequence, 3);
  EXPECT_EQ(count(0, [](const std::string& f) { return is_arp_request_for(f, kB); }), 1u);
  ASSERT_NE(a->arp_cache().find(ia(), kB), nullptr);
  EXPECT_EQ(a->arp_cache().find(ia(), kB)->state, ArpState::reachable);
}

TEST_F(StackTest, UnresolvableAddressFailsAfterThreeRequestsOneSecondApart) {
  time::TimePoint start = env->now();
  ASSERT_EQ(a->send_echo(kNobody, kPingId, 5, 56, 0), 0);
  env->run();
  auto requests = [&] {
    std::vector<time::TimePoint> at;
    for (const auto& f : wire->log())
      if (f.from == 0 && is_arp_request_for(f.bytes, kNobody)) at.push_back(f.when);
    return at;
  };
  ASSERT_EQ(requests().size(), 1u);
  EXPECT_EQ(a->arp_cache().held_total(), 1u);

  env->advance(2500ms);
  auto at = requests();
  ASSERT_EQ(at.size(), 3u);
  EXPECT_EQ(at[0], start);
  // RFC 1122 2.3.2.1: at most one request a second; the slow timer's 100 ms granularity aside.
  for (size_t i = 1; i < at.size(); ++i) {
    EXPECT_GE(at[i] - at[i - 1], 1s);
    EXPECT_LE(at[i] - at[i - 1], 1100ms);
  }
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(stat(*a, "arp", "resolution_failed"), 0u);

  env->advance(1s);
  EXPECT_EQ(requests().size(), 3u);
  EXPECT_EQ(stat(*a, "arp", "resolution_failed"), 1u);
  EXPECT_EQ(a->arp_cache().find(ia(), kNobody), nullptr);
  EXPECT_EQ(a->arp_cache().held_total(), 0u);
  EXPECT_EQ(stat(*a, "ip", "unresolved"), 1u);
  // The held echo request comes back to its sender as host unreachable (through lo0).
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].error);
  EXPECT_EQ(events[0].error_type, 3);
  EXPECT_EQ(events[0].error_code, 1);
  EXPECT_EQ(events[0].sequence, 5);
  EXPECT_EQ(events[0].from, kA);
  EXPECT_EQ(stat(*a, "icmp", "dest_unreachable_sent"), 1u);

  env->advance(10s);
  EXPECT_EQ(requests().size(), 3u);  // no more asking
  EXPECT_EQ(events.size(), 1u);
}

TEST_F(StackTest, ArpHoldsAtMostHoldPerEntryPacketsPerAddress) {
  const uint16_t sent = static_cast<uint16_t>(ArpConfig{}.hold_per_entry + 20);
  for (uint16_t seq = 0; seq < sent; ++seq) ASSERT_EQ(a->send_echo(kNobody, kPingId, seq, 56, 0), 0);
  EXPECT_EQ(a->arp_cache().held_total(), ArpConfig{}.hold_per_entry);
  EXPECT_EQ(stat(*a, "arp", "held_packets_dropped"), sent - ArpConfig{}.hold_per_entry);
  env->run();
  EXPECT_EQ(count(0, [](const std::string& f) { return is_arp_request_for(f, kNobody); }), 1u);
  env->advance(4s);
  EXPECT_EQ(a->arp_cache().held_total(), 0u);
  // One host unreachable each, as far as the ICMP error rate limit allows.
  const size_t allowed = std::min<size_t>(ArpConfig{}.hold_per_entry, StackConfig{}.icmp_error_burst);
  EXPECT_EQ(events.size(), allowed);
  EXPECT_EQ(stat(*a, "icmp", "rate_limited"), ArpConfig{}.hold_per_entry - allowed);
  for (const EchoEvent& e : events) EXPECT_TRUE(e.error);
}

TEST_F(StackTest, ArpCacheLimitsHoldUnderAFloodAndFreeEverything) {
  StackConfig config;
  config.arp.max_entries = 8;
  config.arp.hold_per_entry = 2;
  config.arp.hold_total = 4;
  build(config);
  for (uint8_t i = 0; i < 100; ++i) {
    Ipv4Address dst = ip(198, 18, 1, static_cast<uint8_t>(100 + i));
    int err = a->send_echo(dst, kPingId, i, 56, 0);
    EXPECT_EQ(err, 0) << int{i};
    if (i % 3 == 0) (void)a->send_echo(dst, kPingId, i, 56, 0);  // a second packet for some
    EXPECT_LE(a->arp_cache().size(), 8u);
    EXPECT_LE(a->arp_cache().held_total(), 4u);
  }
  env->run();
  EXPECT_LE(a->arp_cache().size(), 8u);
  EXPECT_LE(a->arp_cache().held_total(), 4u);
  EXPECT_GT(stat(*a, "arp", "held_packets_dropped"), 0u);
  // Every destination was asked for once (eviction does not stop the first request).
  EXPECT_EQ(count(0, [](const std::string& f) {
              auto p = arp(f);
              return p && p->operation() == wire::ArpOperation::request;
            }),
            100u);
  env->advance(5s);
  EXPECT_EQ(a->arp_cache().size(), 0u);
  EXPECT_EQ(a->arp_cache().held_total(), 0u);
  EXPECT_LE(events.size(), 4u);  // host unreachable for what was still held
  EXPECT_EQ(stat(*a, "arp", "resolution_failed"), 8u);
  // The leak check after the test proves every held or evicted packet was freed.
}

// When resolution fails, the host unreachable about a held packet goes to the packet's source.
// If that address is no longer ours but still on the link, sending the error needs ARP itself:
// new entries, made while the timer walks the entries that came due. In a full cache each new
// entry evicts the oldest, which is one the timer has yet to look at.
TEST_F(StackTest, ArpFailuresThatNeedArpDuringTheTimerPass) {
  StackConfig config;
  config.arp.max_entries = 4;
  build(config);
  const Ipv4Address second = ip(198, 18, 1, 7);
  ASSERT_EQ(a->add_address(ia(), {second, 24}, true), 0);
  ASSERT_EQ(a->add_address(ia(), {ip(198, 18, 1, 9), 24}, true), 0);
  for (uint8_t i = 0; i < 4; ++i) {
    Ipv4Address dst = ip(198, 18, 1, static_cast<uint8_t>(100 + i));
    ASSERT_EQ(a->send_echo(dst, kPingId, i, 56, 0), 0);                     // from kA
    ASSERT_EQ(a->udp_output({second, 5000}, {dst, 9}, text("x")), 0);      // from .7
  }
  ASSERT_EQ(a->arp_cache().size(), 4u);
  ASSERT_EQ(a->arp_cache().held_total(), 8u);
  ASSERT_EQ(a->delete_address(ia(), kA), 0);
  ASSERT_EQ(a->delete_address(ia(), second), 0);
  env->advance(10s);
  EXPECT_EQ(a->arp_cache().size(), 0u);
  EXPECT_EQ(a->arp_cache().held_total(), 0u);
  EXPECT_GE(stat(*a, "arp", "resolution_failed"), 4u);
}

TEST_F(StackTest, PermanentEntriesAndArpDelete) {
  EXPECT_EQ(a->arp_set_permanent(ip(203, 0, 113, 1), MacAddress{kMacB}), ENETUNREACH);
  EXPECT_EQ(a->arp_set_permanent(kB, MacAddress::broadcast()), EINVAL);
  ASSERT_EQ(a->arp_set_permanent(kB, MacAddress{kMacB}), 0);
  ASSERT_EQ(a->send_echo(kB, kPingId, 1, 56, 0), 0);
  env->run();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(count(0, [](const std::string& f) { return is_arp_request_for(f, kB); }), 0u);
  // A permanent entry does not expire and the network does not change it.
  a->set_arp_reachable_time(1s);
  env->advance(5s);
  ASSERT_NE(a->arp_cache().find(ia(), kB), nullptr);
  EXPECT_EQ(a->arp_cache().find(ia(), kB)->state, ArpState::permanent);
  EXPECT_EQ(a->arp_delete(kB), 0);
  EXPECT_EQ(a->arp_delete(kB), ESRCH);
  EXPECT_EQ(a->arp_cache().find(ia(), kB), nullptr);
}

TEST_F(StackTest, PingOwnAddressGoesThroughLoopback) {
  ASSERT_EQ(a->send_echo(kA, kPingId, 7, 56, 0), 0);
  env->run();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].from, kA);
  EXPECT_FALSE(events[0].error);
  EXPECT_TRUE(wire->log().empty());
  EXPECT_EQ(stat(*a, "ip", "sent_to_self"), 2u);  // request and reply
  ASSERT_EQ(a->send_echo(ip(127, 0, 0, 1), kPingId, 8, 56, 0), 0);
  env->run();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].from, ip(127, 0, 0, 1));
}

// --- fragments ---

class StackFragmentTest : public StackTest {
 protected:
  void SetUp() override {
    register_current_thread(ThreadKind::main, "stack-test");
    StackConfig config;
    config.reassembly.timeout = 2s;
    build(config);
  }
};

TEST_F(StackFragmentTest, LargeEchoIsFragmentedReassembledAndAnswered) {
  ping_once();
  constexpr size_t kData = 60000;
  constexpr size_t kIcmp = kData + 8;
  constexpr size_t kFragments = (kIcmp + 1479) / 1480;  // 1480 data octets per 1500-octet fragment
  ASSERT_EQ(a->send_echo(kB, kPingId, 2, kData, 0), 0);
  env->run();
  EXPECT_EQ(frames_from(0, is_fragment), kFragments);
  EXPECT_EQ(frames_from(1, is_fragment), kFragments);
  for (const auto& f : wire->log()) EXPECT_LE(f.bytes.size(), 1514u);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].sequence, 2);
  EXPECT_FALSE(events[0].error);
  EXPECT_EQ(events[0].icmp_bytes, kIcmp);
  EXPECT_EQ(stat(*a, "ip", "fragmented"), 1u);
  EXPECT_EQ(stat(*a, "ip", "fragments_created"), kFragments);
  EXPECT_EQ(stat(*b, "ip", "reassembled"), 1u);
  EXPECT_EQ(stat(*a, "ip", "reassembled"), 1u);
  EXPECT_EQ(stat(*b, "ip", "reassembly_queues"), 0u);
}

TEST_F(StackFragmentTest, LostFragmentTimesOutWithTimeExceeded) {
  ping_once();
  int seen = 0;
  wire->set_filter([&](int from, std::string& frame) {
    auto v = ipv4(frame);
    if (from != 0 || !v || v->fragment_offset() == 0) return true;
    return ++seen != 5;  // the fifth non-first fragment is lost
  });
  ASSERT_EQ(a->send_echo(kB, kPingId, 3, 60000, 0), 0);
  env->run();
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(stat(*b, "ip", "reassembly_queues"), 1u);
  EXPECT_EQ(wire->count([](const TestWire::Frame& f) { return f.dropped; }), 1u);

  env->advance(1900ms);
  EXPECT_EQ(stat(*b, "ip", "reassembly_timeouts"), 0u);
  env->advance(300ms);
  EXPECT_EQ(stat(*b, "ip", "reassembly_timeouts"), 1u);
  EXPECT_EQ(stat(*b, "ip", "reassembly_queues"), 0u);
  EXPECT_EQ(stat(*b, "ip", "reassembly_bytes"), 0u);
  // RFC 792 / RFC 1122 3.3.2: fragment zero had arrived, so B says Time Exceeded (code 1).
  EXPECT_EQ(frames_from(1, [](const std::string& f) { return is_icmp(f, 11, 1); }), 1u);
  EXPECT_EQ(stat(*b, "icmp", "time_exceeded_sent"), 1u);
  EXPECT_EQ(stat(*a, "icmp", "time_exceeded_received"), 1u);
  ASSERT_EQ(events.size(), 1u);  // the ping hears of it: the error quotes its request
  EXPECT_TRUE(events[0].error);
  EXPECT_EQ(events[0].error_type, 11);
  EXPECT_EQ(events[0].error_code, 1);
  EXPECT_EQ(events[0].sequence, 3);
  EXPECT_EQ(events[0].from, kB);
}

TEST_F(StackFragmentTest, LostFirstFragmentTimesOutSilently) {
  ping_once();
  wire->set_filter([&](int from, std::string& frame) {
    auto v = ipv4(frame);
    return !(from == 0 && v && v->is_fragment() && v->fragment_offset() == 0);
  });
  ASSERT_EQ(a->send_echo(kB, kPingId, 4, 5000, 0), 0);
  env->advance(3s);
  EXPECT_EQ(stat(*b, "ip", "reassembly_timeouts"), 1u);
  EXPECT_EQ(stat(*b, "icmp", "time_exceeded_sent"), 0u);
  EXPECT_TRUE(events.empty());
}

TEST_F(StackFragmentTest, DontFragmentTooBigIsRefused) {
  Stack::SendOptions o;
  o.dont_fragment = true;
  std::string data(3000, 'x');
  buf::MbufPtr m = buf::packet_from(text(data));
  ASSERT_TRUE(m);
  EXPECT_EQ(a->ip_output(std::move(m), 253, kB, o), EMSGSIZE);
  EXPECT_EQ(stat(*a, "ip", "cant_fragment"), 1u);
}

// --- UDP ---

TEST_F(StackTest, UdpDatagramIsDeliveredWithItsAddresses) {
  auto sock = std::make_shared<UdpSocket>();
  ASSERT_EQ(b->udp().bind(sock, {Ipv4Address{}, 7}), 0);
  int wakeups = 0;
  sock->on_readable = [&] { ++wakeups; };
  ASSERT_EQ(a->udp_output({Ipv4Address{}, 5000}, {kB, 7}, text("hello")), 0);
  env->run();
  ReceivedDatagram d;
  ASSERT_TRUE(sock->pop(&d));
  EXPECT_EQ(d.from.address, kA);
  EXPECT_EQ(d.from.port, 5000);
  EXPECT_EQ(d.to.address, kB);
  EXPECT_EQ(d.to.port, 7);
  EXPECT_EQ(d.data, "hello");
  EXPECT_EQ(wakeups, 1);
  EXPECT_FALSE(sock->pop(&d));
  EXPECT_EQ(stat(*b, "udp", "delivered"), 1u);
  EXPECT_EQ(stat(*a, "udp", "sent"), 1u);
  // A bigger one travels in fragments.
  std::string big(4000, 'u');
  ASSERT_EQ(a->udp_output({Ipv4Address{}, 5000}, {kB, 7}, text(big)), 0);
  env->run();
  ASSERT_TRUE(sock->pop(&d));
  EXPECT_EQ(d.data, big);
  EXPECT_EQ(b->udp().bind(std::make_shared<UdpSocket>(), {kB, 7}), EADDRINUSE);
  b->udp().unbind(sock);
}

TEST_F(StackTest, UdpToAClosedPortGetsPortUnreachable) {
  ASSERT_EQ(a->udp_output({Ipv4Address{}, 5000}, {kB, 9}, text("anyone?")), 0);
  env->run();
  EXPECT_EQ(stat(*b, "udp", "no_port"), 1u);
  EXPECT_EQ(stat(*b, "icmp", "dest_unreachable_sent"), 1u);
  EXPECT_EQ(frames_from(1, [](const std::string& f) { return is_icmp(f, 3, 3); }), 1u);
  EXPECT_EQ(stat(*a, "icmp", "dest_unreachable_received"), 1u);
  EXPECT_TRUE(events.empty());  // not a ping's business
}

TEST_F(StackTest, UdpBroadcastToAClosedPortGetsNoError) {
  ASSERT_EQ(a->udp_output({Ipv4Address{}, 5000}, {kSubnetBroadcast, 9}, text("all")), 0);
  env->run();
  ASSERT_EQ(wire->log().size(), 1u);  // no ARP: straight to the Ethernet broadcast address
  auto e = ether(wire->log()[0].bytes);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->destination().is_broadcast());
  EXPECT_EQ(stat(*b, "udp", "no_port_broadcast"), 1u);
  EXPECT_EQ(stat(*b, "udp", "no_port"), 0u);
  EXPECT_EQ(stat(*b, "icmp", "errors_sent"), 0u);
  EXPECT_EQ(frames_from(1, [](const std::string& f) { return is_icmp(f, 3); }), 0u);

  // 255.255.255.255 leaves by the source address's interface.
  ASSERT_EQ(a->udp_output({kA, 5000}, {ip(255, 255, 255, 255), 9}, text("all")), 0);
  env->run();
  EXPECT_EQ(stat(*b, "udp", "no_port_broadcast"), 2u);
  EXPECT_EQ(stat(*b, "icmp", "errors_sent"), 0u);

  // A listener on the wildcard address hears subnet broadcasts.
  auto sock = std::make_shared<UdpSocket>();
  ASSERT_EQ(b->udp().bind(sock, {Ipv4Address{}, 9}), 0);
  ASSERT_EQ(a->udp_output({Ipv4Address{}, 5000}, {kSubnetBroadcast, 9}, text("all")), 0);
  env->run();
  ReceivedDatagram d;
  ASSERT_TRUE(sock->pop(&d));
  EXPECT_EQ(d.to.address, kSubnetBroadcast);
}

TEST_F(StackTest, BroadcastPingIsIgnored) {
  ASSERT_EQ(a->send_echo(kSubnetBroadcast, kPingId, 1, 56, 0), 0);
  env->run();
  EXPECT_EQ(stat(*b, "icmp", "broadcast_echo_ignored"), 1u);
  EXPECT_TRUE(events.empty());
}

TEST_F(StackTest, PortUnreachableReachesTheConnectedSenderOnly) {
  std::vector<int> connected_errors, unconnected_errors;
  auto connected = std::make_shared<UdpSocket>();
  ASSERT_EQ(a->udp().bind(connected, {kA, 5000}), 0);
  connected->remote = {kB, 9};
  connected->on_error = [&](int e) { connected_errors.push_back(e); };
  auto unconnected = std::make_shared<UdpSocket>();
  ASSERT_EQ(a->udp().bind(unconnected, {kA, 5001}), 0);
  unconnected->on_error = [&](int e) { unconnected_errors.push_back(e); };

  ASSERT_EQ(a->udp_output(connected->local, {kB, 9}, text("anyone?")), 0);
  ASSERT_EQ(a->udp_output(unconnected->local, {kB, 9}, text("anyone?")), 0);
  env->run();
  EXPECT_EQ(connected_errors, std::vector<int>{ECONNREFUSED});
  EXPECT_TRUE(unconnected_errors.empty());  // as Linux: only connected sockets hear ICMP errors
  EXPECT_EQ(stat(*a, "udp", "icmp_errors_reported"), 1u);
  a->udp().unbind(connected);
  a->udp().unbind(unconnected);
}

TEST_F(StackTest, BroadcastReachesEveryListenerOfThePortButNotUnicastBoundOnes) {
  std::vector<std::string> heard;
  auto listen = [&](Ipv4Address address, const std::string& who) {
    auto s = std::make_shared<UdpSocket>();
    s->reuse_address = true;
    s->sink = [&heard, who](const UdpEndpoint&, std::span<const std::byte> data) {
      heard.push_back(who + ":" + std::string(reinterpret_cast<const char*>(data.data()), data.size()));
      return true;
    };
    EXPECT_EQ(b->udp().bind(s, {address, 9}), 0);
    return s;
  };
  auto one = listen({}, "one"), two = listen({}, "two"), unicast = listen(kB, "unicast");
  ASSERT_EQ(a->udp_output({Ipv4Address{}, 5000}, {kSubnetBroadcast, 9}, text("all")), 0);
  env->run();
  EXPECT_EQ(heard, (std::vector<std::string>{"one:all", "two:all"}));
  EXPECT_EQ(stat(*b, "udp", "delivered"), 2u);
  // Unicast goes to one socket: the most specific, here the one bound to kB.
  ASSERT_EQ(a->udp_output({Ipv4Address{}, 5000}, {kB, 9}, text("you")), 0);
  env->run();
  EXPECT_EQ(heard.back(), "unicast:you");
  for (auto& s : {one, two, unicast}) b->udp().unbind(s);
}

TEST(UdpTableTest, PortsAreSharedOnlyWhenEveryOwnerAgrees) {
  UdpTable t;
  auto make = [](bool reuse_address, bool reuse_port, uid_t owner) {
    auto s = std::make_shared<UdpSocket>();
    s->reuse_address = reuse_address;
    s->reuse_port = reuse_port;
    s->owner = owner;
    return s;
  };
  auto first = make(true, false, 0);
  ASSERT_EQ(t.bind(first, {Ipv4Address{}, 53}), 0);
  EXPECT_EQ(t.bind(make(false, false, 0), {Ipv4Address{}, 53}), EADDRINUSE);
  EXPECT_EQ(t.bind(make(false, false, 0), {kA, 53}), EADDRINUSE);  // overlaps the wildcard
  EXPECT_EQ(t.bind(make(true, false, 0), {kA, 53}), 0);

  auto port_a = make(false, true, 1000);
  ASSERT_EQ(t.bind(port_a, {Ipv4Address{}, 80}), 0);
  EXPECT_EQ(t.bind(make(false, true, 1001), {Ipv4Address{}, 80}), EADDRINUSE);  // another user
  auto port_b = make(false, true, 1000);
  ASSERT_EQ(t.bind(port_b, {Ipv4Address{}, 80}), 0);
  // A SO_REUSEPORT group spreads senders, and one sender always reaches the same member.
  std::set<UdpSocket*> chosen;
  for (uint8_t host = 1; host < 40; ++host) {
    UdpEndpoint from{ip(198, 18, 1, host), 4000};
    auto s = t.lookup({kA, 80}, from);
    ASSERT_TRUE(s);
    EXPECT_EQ(s, t.lookup({kA, 80}, from));
    chosen.insert(s.get());
  }
  EXPECT_EQ(chosen.size(), 2u);
  // An ephemeral port is never one someone shares, whatever the options say: the first one
  // is taken by a sharing socket, and the next pick skips it.
  auto sharing = make(true, true, 1000);
  ASSERT_EQ(t.bind(sharing, {Ipv4Address{}, UdpTable::kEphemeralFirst}), 0);
  auto ephemeral = make(true, true, 1000);
  ASSERT_EQ(t.bind(ephemeral, {Ipv4Address{}, 0}), 0);
  EXPECT_EQ(ephemeral->local.port, UdpTable::kEphemeralFirst + 1);
}

TEST_F(StackTest, IcmpErrorsAreRateLimited) {
  ping_once();
  auto to_closed_port = [&] { return a->udp_output({Ipv4Address{}, 5000}, {kB, 9}, text("x")); };
  const uint32_t burst = StackConfig{}.icmp_error_burst;
  for (int i = 0; i < 200; ++i) ASSERT_EQ(to_closed_port(), 0);
  env->run();
  EXPECT_EQ(stat(*b, "udp", "no_port"), 200u);
  EXPECT_EQ(stat(*b, "icmp", "dest_unreachable_sent"), burst);
  EXPECT_EQ(stat(*b, "icmp", "rate_limited"), 200u - burst);
  EXPECT_EQ(frames_from(1, [](const std::string& f) { return is_icmp(f, 3, 3); }), burst);
  EXPECT_EQ(stat(*a, "icmp", "dest_unreachable_received"), burst);

  // A second later the bucket has refilled (1000 a second, capped at the burst).
  env->advance(1s);
  for (int i = 0; i < 200; ++i) ASSERT_EQ(to_closed_port(), 0);
  env->run();
  EXPECT_EQ(stat(*b, "icmp", "dest_unreachable_sent"), 2u * burst);
  EXPECT_EQ(stat(*b, "icmp", "rate_limited"), 400u - 2u * burst);

  // 10 ms refills 10 tokens.
  env->advance(10ms);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(to_closed_port(), 0);
  env->run();
  EXPECT_EQ(stat(*b, "icmp", "dest_unreachable_sent"), 2u * burst + 10u);
}

TEST_F(StackTest, FullInputQueueDropsAndCounts) {
  StackConfig config_b;
  config_b.input_queue_max = 4;
  build(StackConfig{}, config_b);
  ping_once();
  auto sock = std::make_shared<UdpSocket>();
  ASSERT_EQ(b->udp().bind(sock, {Ipv4Address{}, 7}), 0);
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(a->udp_output({Ipv4Address{}, 5000}, {kB, 7}, text("x")), 0);
  EXPECT_EQ(b->input_queue_length(), 4u);
  env->run();
  EXPECT_EQ(stat(*b, "ether", "input_queue_full"), 6u);
  EXPECT_EQ(stat(*b, "udp", "delivered"), 4u);
}

TEST_F(StackTest, ErrorAboutAFragmentedDatagramQuotesItsStart) {
  ping_once();
  std::string big(3000, 'f');
  ASSERT_EQ(a->udp_output({Ipv4Address{}, 5000}, {kB, 9}, text(big)), 0);
  env->run();
  EXPECT_EQ(stat(*b, "ip", "reassembled"), 1u);
  EXPECT_EQ(stat(*b, "icmp", "dest_unreachable_sent"), 1u);
  ASSERT_EQ(frames_from(1, [](const std::string& f) { return is_icmp(f, 3, 3); }), 1u);
  for (const auto& f : wire->log()) {
    if (f.from != 1 || !is_icmp(f.bytes, 3, 3)) continue;
    auto v = ipv4(f.bytes);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->total_length(), 576u);  // RFC 1812 4.3.2.3: as much as fits in 576 octets
    auto m = wire::Icmpv4View::parse(v->payload());
    ASSERT_TRUE(m);  // checksum verified
    auto quoted = wire::Ipv4View::parse(m->payload(), wire::ChecksumCheck::verify);
    EXPECT_FALSE(quoted);  // truncated: the quote is a prefix of the datagram
    EXPECT_EQ(wire::load_u8(m->payload(), 9), wire::kIpProtocolUdp);
    EXPECT_EQ(wire::load_ipv4(m->payload(), 12), kA);
    EXPECT_EQ(wire::load_ipv4(m->payload(), 16), kB);
    EXPECT_EQ(wire::load_be16(m->payload(), 6) & 0x3FFF, 0);  // the reassembled header
  }
}

// --- routes ---

TEST(RouteTableTest, LongestPrefixWins) {
  RouteTable t;
  EXPECT_EQ(t.lookup(ip(10, 1, 2, 3)), nullptr);
  ASSERT_EQ(t.add({ip(0, 0, 0, 0), 0, ip(192, 0, 2, 1), 1, kRouteUp | kRouteGateway, {}}), 0);
  ASSERT_EQ(t.add({ip(10, 0, 0, 0), 8, ip(192, 0, 2, 8), 1, kRouteUp | kRouteGateway, {}}), 0);
  ASSERT_EQ(t.add({ip(10, 1, 2, 0), 24, std::nullopt, 2, kRouteUp, {}}), 0);
  ASSERT_EQ(t.add({ip(10, 1, 0, 0), 16, ip(192, 0, 2, 16), 1, kRouteUp | kRouteGateway, {}}), 0);
  ASSERT_EQ(t.add({ip(10, 1, 2, 3), 32, std::nullopt, 3, kRouteUp, {}}), 0);
  EXPECT_EQ(t.lookup(ip(10, 1, 2, 3))->ifindex, 3u);
  EXPECT_EQ(t.lookup(ip(10, 1, 2, 4))->ifindex, 2u);
  EXPECT_EQ(t.lookup(ip(10, 1, 3, 4))->gateway, ip(192, 0, 2, 16));
  EXPECT_EQ(t.lookup(ip(10, 2, 3, 4))->gateway, ip(192, 0, 2, 8));
  EXPECT_EQ(t.lookup(ip(8, 8, 8, 8))->gateway, ip(192, 0, 2, 1));
  // Most specific first, whatever the order of adding.
  const auto& all = t.routes();
  ASSERT_EQ(all.size(), 5u);
  for (size_t i = 1; i < all.size(); ++i) EXPECT_GE(all[i - 1].prefix_len, all[i].prefix_len);
  EXPECT_NE(t.find(ip(10, 1, 2, 3), 32)->flags & kRouteHost, 0u);

  EXPECT_EQ(t.add({ip(10, 1, 0, 0), 16, std::nullopt, 5, kRouteUp, {}}), EEXIST);
  EXPECT_EQ(t.add({ip(10, 1, 0, 1), 16, std::nullopt, 5, kRouteUp, {}}), EINVAL);  // host bits
  EXPECT_EQ(t.add({ip(10, 0, 0, 0), 33, std::nullopt, 5, kRouteUp, {}}), EINVAL);

  EXPECT_EQ(t.remove(ip(10, 1, 2, 3), 32), 0);
  EXPECT_EQ(t.remove(ip(10, 1, 2, 3), 32), ESRCH);
  EXPECT_EQ(t.lookup(ip(10, 1, 2, 3))->ifindex, 2u);
  t.remove_interface(2);
  EXPECT_EQ(t.lookup(ip(10, 1, 2, 3))->gateway, ip(192, 0, 2, 16));
  EXPECT_EQ(t.remove(ip(0, 0, 0, 0), 0), 0);
  EXPECT_EQ(t.lookup(ip(8, 8, 8, 8)), nullptr);
}

TEST(RouteTableTest, RemoveConnectedTakesOnlyConnectedAndLocalRoutesOfThatInterface) {
  RouteTable t;
  ASSERT_EQ(t.add({ip(10, 0, 0, 0), 8, std::nullopt, 1, kRouteUp | kRouteConnected, {}}), 0);
  ASSERT_EQ(t.add({ip(10, 0, 0, 0), 16, std::nullopt, 1, kRouteUp | kRouteStatic, {}}), 0);
  ASSERT_EQ(t.add({ip(11, 0, 0, 0), 8, std::nullopt, 2, kRouteUp | kRouteConnected, {}}), 0);
  t.remove_connected(1, ip(10, 0, 0, 0), 16);  // static: stays
  t.remove_connected(2, ip(10, 0, 0, 0), 8);   // other interface: stays
  EXPECT_EQ(t.routes().size(), 3u);
  t.remove_connected(1, ip(10, 0, 0, 0), 8);
  EXPECT_EQ(t.find(ip(10, 0, 0, 0), 8), nullptr);
  EXPECT_EQ(t.routes().size(), 2u);
  EXPECT_EQ(route_flags_text(kRouteUp | kRouteGateway | kRouteHost | kRouteStatic), "UGHS");
  EXPECT_EQ(route_flags_text(kRouteUp | kRouteConnected), "UC");
  EXPECT_EQ(route_flags_text(kRouteUp | kRouteHost | kRouteLocal), "UHL");
}

TEST_F(StackTest, ConnectedAndLocalRoutesComeWithTheAddress) {
  const Route* connected = a->routes().find(ip(198, 18, 1, 0), 24);
  ASSERT_NE(connected, nullptr);
  EXPECT_EQ(connected->ifindex, ia());
  EXPECT_EQ(connected->source, kA);
  EXPECT_NE(connected->flags & kRouteConnected, 0u);
  const Route* local = a->routes().find(kA, 32);
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(local->ifindex, lo_a->index());
  EXPECT_NE(local->flags & kRouteLocal, 0u);
  EXPECT_NE(a->routes().find(ip(127, 0, 0, 0), 8), nullptr);
  EXPECT_TRUE(a->is_local_address(ip(127, 0, 0, 1)));
}

TEST_F(StackTest, StaticRoutesNeedAConnectedGateway) {
  const Ipv4Address net10 = ip(10, 0, 0, 0);
  EXPECT_EQ(a->add_route(net10, 8, ip(192, 0, 2, 1), 0), ENETUNREACH);  // not on a connected net
  EXPECT_EQ(a->add_route(net10, 8, kA, 0), ENETUNREACH);                // ourselves (lo0)
  EXPECT_EQ(a->add_route(net10, 8, std::nullopt, 99), ENXIO);
  ASSERT_EQ(a->add_route(net10, 8, ip(198, 18, 1, 254), 0), 0);
  EXPECT_EQ(a->add_route(net10, 8, ip(198, 18, 1, 254), 0), EEXIST);
  EXPECT_EQ(a->add_route(ip(10, 0, 0, 1), 8, ip(198, 18, 1, 254), 0), EINVAL);
  const Route* r = a->routes().lookup(ip(10, 1, 2, 3));
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->gateway, ip(198, 18, 1, 254));
  EXPECT_EQ(r->ifindex, ia());
  EXPECT_EQ(route_flags_text(r->flags), "UGS");

  // The longer prefix wins.
  ASSERT_EQ(a->add_route(ip(10, 1, 0, 0), 16, kB, 0), 0);
  EXPECT_EQ(a->routes().lookup(ip(10, 1, 2, 3))->gateway, kB);
  EXPECT_EQ(a->routes().lookup(ip(10, 2, 0, 1))->gateway, ip(198, 18, 1, 254));

  // A packet for 10.1.2.3 goes to B's MAC (B, a host, does not forward it).
  ASSERT_EQ(a->send_echo(ip(10, 1, 2, 3), kPingId, 1, 56, 0), 0);
  env->run();
  size_t via_b = count(0, [](const std::string& f) {
    auto e = ether(f);
    auto v = ipv4(f);
    return e && v && e->destination() == MacAddress{kMacB} && v->destination() == ip(10, 1, 2, 3);
  });
  EXPECT_EQ(via_b, 1u);
  EXPECT_EQ(stat(*b, "ip", "not_for_us"), 1u);

  EXPECT_EQ(a->delete_route(ip(10, 1, 0, 0), 16), 0);
  EXPECT_EQ(a->delete_route(ip(10, 1, 0, 0), 16), ESRCH);
  EXPECT_EQ(a->routes().lookup(ip(10, 1, 2, 3))->gateway, ip(198, 18, 1, 254));

  // No default route: ENETUNREACH, counted.
  EXPECT_EQ(a->send_echo(ip(203, 0, 113, 1), kPingId, 2, 56, 0), ENETUNREACH);
  EXPECT_EQ(stat(*a, "ip", "no_route"), 1u);
  ASSERT_EQ(a->add_route(Ipv4Address{}, 0, kB, 0), 0);
  EXPECT_EQ(a->send_echo(ip(203, 0, 113, 1), kPingId, 2, 56, 0), 0);
  // An interface route without a gateway: next hop is the destination itself.
  ASSERT_EQ(a->add_route(ip(192, 0, 2, 0), 24, std::nullopt, ia()), 0);
  wire->clear_log();
  ASSERT_EQ(a->send_echo(ip(192, 0, 2, 9), kPingId, 3, 56, 0), 0);
  env->run();
  EXPECT_EQ(count(0, [](const std::string& f) { return is_arp_request_for(f, ip(192, 0, 2, 9)); }),
            1u);
  env->advance(5s);  // let that resolution fail
}

TEST_F(StackTest, DeleteAddressRemovesItsConnectedAndLocalRoutes) {
  ASSERT_EQ(a->delete_address(ia(), kA), 0);
  EXPECT_EQ(a->routes().find(ip(198, 18, 1, 0), 24), nullptr);
  EXPECT_EQ(a->routes().find(kA, 32), nullptr);
  EXPECT_FALSE(a->is_local_address(kA));
  EXPECT_TRUE(a->addresses(ia()).empty());
  EXPECT_EQ(a->delete_address(ia(), kA), EADDRNOTAVAIL);
  EXPECT_EQ(a->delete_address(99, kA), EADDRNOTAVAIL);
  EXPECT_EQ(a->send_echo(kB, kPingId, 1, 56, 0), ENETUNREACH);
  // B's packets for the old address are not ours any more.
  ASSERT_EQ(b->send_echo(kA, kPingId, 1, 56, 0), 0);
  env->advance(4s);
  EXPECT_EQ(stat(*a, "icmp", "echo_requests"), 0u);
}

// --- addresses ---

TEST_F(StackTest, GivingThePrimaryAgainKeepsTheAliases) {
  const Ipv4Address alias = ip(198, 18, 1, 5);
  ASSERT_EQ(a->add_address(ia(), {alias, 24}, true), 0);
  ASSERT_EQ(a->add_address(ia(), {kA, 24}, false), 0);  // the same configuration, run again
  auto list = a->addresses(ia());
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].address, kA);
  EXPECT_EQ(list[1].address, alias);
  EXPECT_NE(a->routes().find(alias, 32), nullptr);  // its local route stays
}

TEST_F(StackTest, SourcesThatAreNotAUniqueHostAreDropped) {
  ping_once();
  const uint64_t replies = stat(*a, "icmp", "echo_replies_sent");
  deliver(echo_frame(ip(0, 0, 0, 0), kA, 1));         // "this host" (RFC 1122 3.2.1.3 (a))
  deliver(echo_frame(ip(0, 1, 2, 3), kA, 2));         // "this network"
  deliver(echo_frame(ip(198, 18, 1, 255), kA, 3));    // our network's broadcast
  deliver(echo_frame(kA, kA, 4));                      // our own address, from the wire
  EXPECT_EQ(stat(*a, "ip", "bad_source"), 4u);
  EXPECT_EQ(stat(*a, "icmp", "echo_replies_sent"), replies);
}

TEST_F(StackTest, AddAddressRejectsWhatIsNotAHostAddress) {
  EXPECT_EQ(a->add_address(ia(), {ip(0, 0, 0, 0), 24}, true), EINVAL);
  EXPECT_EQ(a->add_address(ia(), {ip(224, 0, 0, 1), 24}, true), EINVAL);
  EXPECT_EQ(a->add_address(ia(), {ip(198, 18, 7, 0), 24}, true), EINVAL);    // the network
  EXPECT_EQ(a->add_address(ia(), {ip(198, 18, 7, 255), 24}, true), EINVAL);  // its broadcast
  EXPECT_EQ(a->add_address(ia(), {ip(255, 255, 255, 255), 24}, true), EINVAL);
  EXPECT_EQ(a->add_address(ia(), {ip(240, 0, 0, 1), 24}, true), EINVAL);
  EXPECT_EQ(a->add_address(ia(), {ip(198, 18, 7, 1), 33}, true), EINVAL);
  EXPECT_EQ(a->add_address(99, {ip(198, 18, 7, 1), 24}, true), ENXIO);
  // Given again on its own interface, an address replaces itself (a new prefix length, or the
  // same configuration run twice); another interface's address is refused.
  EXPECT_EQ(a->add_address(ia(), {kA, 24}, true), 0);
  EXPECT_EQ(a->add_address(ia(), {kA, 16}, true), 0);
  ASSERT_EQ(a->addresses(ia()).size(), 1u);
  EXPECT_EQ(a->addresses(ia())[0].prefix_len, 16);
  EXPECT_NE(a->routes().find(ip(198, 18, 0, 0), 16), nullptr);
  EXPECT_EQ(a->routes().find(ip(198, 18, 1, 0), 24), nullptr);
  EXPECT_EQ(a->add_address(ia(), {ip(127, 0, 0, 1), 8}, true), EEXIST);   // lo0's
  EXPECT_EQ(a->add_address(ia(), {ip(127, 0, 0, 1), 8}, false), EEXIST);  // lo0's, as primary
  // RFC 3021 /31 and a /32 have no network or broadcast address to refuse.
  EXPECT_EQ(a->add_address(ia(), {ip(198, 18, 8, 0), 31}, true), 0);
  EXPECT_EQ(a->add_address(ia(), {ip(198, 18, 9, 1), 32}, true), 0);
  EXPECT_EQ(a->addresses(ia()).size(), 3u);
  EXPECT_EQ(a->addresses(ia()).front().address, kA);
}

TEST_F(StackTest, AliasAddsAndPrimaryReplaces) {
  const Ipv4Address alias = ip(198, 18, 2, 1);
  ASSERT_EQ(a->add_address(ia(), {alias, 24}, true), 0);
  env->run();
  auto list = a->addresses(ia());
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].address, kA);
  EXPECT_EQ(list[1].address, alias);
  EXPECT_EQ(count(0, [&](const std::string& f) { return is_announcement(f, alias); }), 1u);
  ASSERT_NE(a->routes().find(ip(198, 18, 2, 0), 24), nullptr);
  EXPECT_EQ(a->routes().find(ip(198, 18, 2, 0), 24)->source, alias);
  ASSERT_NE(a->routes().find(alias, 32), nullptr);

  const Ipv4Address primary = ip(198, 18, 3, 1);
  ASSERT_EQ(a->add_address(ia(), {primary, 24}, false), 0);
  list = a->addresses(ia());
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].address, primary);
  EXPECT_EQ(list[1].address, alias);
  EXPECT_FALSE(a->is_local_address(kA));
  EXPECT_EQ(a->routes().find(ip(198, 18, 1, 0), 24), nullptr);
  EXPECT_EQ(a->routes().find(kA, 32), nullptr);
  EXPECT_NE(a->routes().find(ip(198, 18, 3, 0), 24), nullptr);
  EXPECT_NE(a->routes().find(primary, 32), nullptr);
}

// Two addresses in one prefix share the connected route; the route's preferred source must not
// outlive the address it names.
TEST_F(StackTest, DeletingThePrimaryKeepsTheSubnetReachableFromTheAlias) {
  const Ipv4Address alias = ip(198, 18, 1, 7);
  ASSERT_EQ(a->add_address(ia(), {alias, 24}, true), 0);
  ASSERT_EQ(a->delete_address(ia(), kA), 0);
  ASSERT_NE(a->routes().find(ip(198, 18, 1, 0), 24), nullptr);
  EXPECT_EQ(a->routes().find(ip(198, 18, 1, 0), 24)->source, alias);
  env->run();
  wire->clear_log();
  ASSERT_EQ(a->send_echo(kB, kPingId, 1, 56, 0), 0);
  env->run();
  size_t from_alias = count(0, [&](const std::string& f) {
    auto v = ipv4(f);
    return v && v->protocol() == wire::kIpProtocolIcmp && v->source() == alias;
  });
  EXPECT_EQ(from_alias, 1u);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].error);
}

TEST_F(StackTest, DuplicateAddressIsDetected) {
  ASSERT_EQ(b->add_address(ib(), {kA, 24}, true), 0);  // B announces A's address
  env->run();
  EXPECT_EQ(count(1, [](const std::string& f) { return is_announcement(f, kA); }), 1u);
  EXPECT_EQ(stat(*a, "arp", "duplicate_address"), 1u);
  EXPECT_TRUE(a->is_local_address(kA));                  // A keeps it
  EXPECT_EQ(a->arp_cache().find(ia(), kA), nullptr);    // and learns nothing from it
}

TEST_F(StackTest, AnnounceRepeatsTheGratuitousArp) {
  a->announce(ia());
  a->announce(lo_a->index());  // nothing on lo0
  env->run();
  EXPECT_EQ(count(0, [](const std::string& f) { return is_announcement(f, kA); }), 1u);
  EXPECT_EQ(stat(*a, "arp", "gratuitous_sent"), 2u);  // add_address's and this one
}

// An ARP request from B's MAC to A's link, claiming sender for itself and asking for target.
std::string arp_request_frame(Ipv4Address sender, Ipv4Address target) {
  wire::ArpPacket p{wire::ArpOperation::request, MacAddress{kMacB}, sender, MacAddress{}, target};
  wire::EthernetHeader eth{MacAddress::broadcast(), MacAddress{kMacB}, std::nullopt,
                           wire::kEthertypeArp};
  std::string out(eth.length() + wire::ArpView::kLength, '\0');
  auto bytes = std::as_writable_bytes(std::span<char>(out.data(), out.size()));
  EXPECT_TRUE(eth.emit(bytes));
  EXPECT_TRUE(p.emit(bytes.subspan(eth.length())));
  return out;
}

TEST_F(StackTest, ArpAnswersButDoesNotLearnAnOffLinkSender) {
  const Ipv4Address off_link = ip(198, 19, 9, 9);
  deliver(arp_request_frame(off_link, kA));
  EXPECT_EQ(count(0, [](const std::string& f) { return is_arp_reply_from(f, kA); }), 1u);
  EXPECT_EQ(a->arp_cache().find(ia(), off_link), nullptr);
  deliver(arp_request_frame(kB, kA));  // on the link: learnt (RFC 826)
  EXPECT_NE(a->arp_cache().find(ia(), kB), nullptr);
}

TEST_F(StackTest, DuplicateAddressLogsAtMostOnceASecondAndCountsEach) {
  pktd::log::Capture logs;
  for (int i = 0; i < 5; ++i) deliver(arp_request_frame(kA, kB));  // someone claims A's address
  EXPECT_EQ(stat(*a, "arp", "duplicate_address"), 5u);
  auto lines = [&] {
    std::string t = logs.text();
    size_t n = 0;
    for (size_t at = t.find("duplicate address"); at != std::string::npos;
         at = t.find("duplicate address", at + 1))
      ++n;
    return n;
  };
  EXPECT_EQ(lines(), 1u);
  env->advance(1s);
  deliver(arp_request_frame(kA, kB));
  EXPECT_EQ(lines(), 2u);
}

TEST(ArpCacheTest, WhenFullIncompleteEntriesGoBeforeNeighboursInUse) {
  ArpCache cache(ArpConfig{.max_entries = 2});
  std::vector<buf::MbufPtr> evicted;
  time::TimePoint t0{};
  ArpEntry* gateway = cache.create(1, ip(198, 18, 1, 254), t0, &evicted);
  ASSERT_NE(gateway, nullptr);
  gateway->state = ArpState::reachable;  // the oldest entry, and in use
  gateway->deadline = t0 + 1200s;
  ASSERT_NE(cache.create(1, ip(198, 18, 1, 100), t0 + 1s, &evicted), nullptr);  // unresolved
  ASSERT_NE(cache.create(1, ip(198, 18, 1, 101), t0 + 2s, &evicted), nullptr);  // full: one goes
  EXPECT_NE(cache.find(1, ip(198, 18, 1, 254)), nullptr);
  EXPECT_EQ(cache.find(1, ip(198, 18, 1, 100)), nullptr);
  EXPECT_NE(cache.find(1, ip(198, 18, 1, 101)), nullptr);
}

TEST_F(StackTest, AHostAddressHasOnlyItsLocalRouteAndAnswers) {
  const Ipv4Address host = ip(198, 18, 50, 1);
  ASSERT_EQ(a->add_address(ia(), {host, 32}, true), 0);
  const Route* r = a->routes().find(host, 32);
  ASSERT_NE(r, nullptr);
  EXPECT_NE(r->flags & kRouteLocal, 0u);
  EXPECT_EQ(r->ifindex, lo_a->index());
  ASSERT_EQ(a->send_echo(host, kPingId, 7, 56, 0), 0);
  env->run();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].error);
}

TEST_F(StackTest, AllOfTheLoopbackNetworkAnswers) {
  ASSERT_EQ(a->send_echo(ip(127, 0, 0, 2), kPingId, 8, 56, 0), 0);
  env->run();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].error);
  EXPECT_EQ(events[0].from, ip(127, 0, 0, 2));
}

// --- capture ---

TEST_F(StackTest, CaptureRecordsFramesInBothDirections) {
  uint64_t id = a->capture_start(ia(), 65535);
  ASSERT_NE(id, 0u);
  uint64_t short_id = a->capture_start(ia(), 42);
  ASSERT_NE(short_id, 0u);
  EXPECT_EQ(a->capture_start(99, 100), 0u);
  ASSERT_EQ(a->send_echo(kB, kPingId, 1, 56, 0), 0);
  env->run();
  ASSERT_EQ(events.size(), 1u);

  CaptureHub::Session* s = a->captures().find(id);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->link_type, 1u);
  ASSERT_EQ(s->frames.size(), 4u);  // ARP request, ARP reply, echo request, echo reply
  EXPECT_TRUE(s->frames[0].outgoing);
  EXPECT_FALSE(s->frames[1].outgoing);
  EXPECT_TRUE(s->frames[2].outgoing);
  EXPECT_FALSE(s->frames[3].outgoing);
  EXPECT_TRUE(is_arp_request_for(s->frames[0].data, kB));
  EXPECT_TRUE(is_arp_reply_from(s->frames[1].data, kB));
  EXPECT_TRUE(is_icmp(s->frames[2].data, 8));
  EXPECT_TRUE(is_icmp(s->frames[3].data, 0));
  // What was captured is what crossed the wire.
  ASSERT_EQ(wire->log().size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(s->frames[i].data, wire->log()[i].bytes);
  for (const Frame& f : s->frames) {
    EXPECT_EQ(f.original_length, f.data.size());
    EXPECT_EQ(f.time_ns, TestEnv::kWallEpochNs + env->now().time_since_epoch().count());
  }
  CaptureHub::Session* short_s = a->captures().find(short_id);
  ASSERT_NE(short_s, nullptr);
  ASSERT_EQ(short_s->frames.size(), 4u);
  EXPECT_EQ(short_s->frames[2].data.size(), 42u);
  EXPECT_EQ(short_s->frames[2].original_length, 14u + 20u + 64u);

  // Nobody reads: the sessions close after the idle timeout.
  env->advance(StackConfig{}.capture_idle_timeout + 1s);
  EXPECT_EQ(a->captures().find(id), nullptr);
  EXPECT_TRUE(a->captures().empty());
}

TEST_F(StackTest, CaptureOnLoopbackSeesBareIpv4) {
  uint64_t id = a->capture_start(lo_a->index(), 65535);
  ASSERT_NE(id, 0u);
  ASSERT_EQ(a->send_echo(kA, kPingId, 1, 56, 0), 0);
  env->run();
  CaptureHub::Session* s = a->captures().find(id);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->link_type, 101u);
  ASSERT_EQ(s->frames.size(), 2u);  // request and reply, each once (as BSD and Linux show lo0)
  EXPECT_TRUE(s->frames[0].outgoing);
  auto v = wire::Ipv4View::parse(bytes_of(s->frames[0].data));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->destination(), kA);
  a->captures().stop(id);
  EXPECT_TRUE(a->captures().empty());
}

// --- interfaces going away ---

TEST_F(StackTest, DestroyingAnInterfaceFreesWhatTheStackHeldForIt) {
  StackConfig config;
  config.reassembly.timeout = 30s;
  build(config);
  ping_once();
  // Packets held for ARP, a reassembly queue on B and frames waiting in B's input queue.
  ASSERT_EQ(a->send_echo(kNobody, kPingId, 1, 56, 0), 0);
  wire->set_filter([](int from, std::string& f) {
    auto v = ipv4(f);
    return !(from == 0 && v && v->is_fragment() && !v->more_fragments());
  });
  ASSERT_EQ(a->send_echo(kB, kPingId, 2, 3000, 0), 0);
  env->run();
  EXPECT_EQ(a->arp_cache().held_total(), 1u);
  EXPECT_EQ(stat(*b, "ip", "reassembly_queues"), 1u);
  wire->set_filter(nullptr);
  ASSERT_EQ(a->send_echo(kB, kPingId, 3, 56, 0), 0);
  EXPECT_EQ(b->input_queue_length(), 1u);

  ifs_a->destroy(eth_a);
  eth_a = nullptr;
  EXPECT_EQ(a->arp_cache().size(), 0u);
  EXPECT_EQ(stat(*a, "arp", "held_packets_dropped"), 1u);
  EXPECT_EQ(a->routes().find(ip(198, 18, 1, 0), 24), nullptr);
  EXPECT_FALSE(a->is_local_address(kA));
  EXPECT_EQ(a->send_echo(kB, kPingId, 4, 56, 0), ENETUNREACH);
  env->advance(5s);
  // B's side is torn down with the queued frame and the half-reassembled datagram still there.
  ifs_b->destroy(eth_b);
  eth_b = nullptr;
  env->run();
}

TEST_F(StackTest, ShutdownWithQueuedFramesFreesThem) {
  ping_once();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(a->send_echo(kB, kPingId, 1, 56, 0), 0);
  EXPECT_EQ(b->input_queue_length(), 5u);
  b->shutdown();
  b->shutdown();  // idempotent
  EXPECT_EQ(b->input_queue_length(), 0u);
  env->run();  // the posted drain finds the stack gone
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(stat(*b, "icmp", "echo_requests"), 1u);  // ping_once's only
  // Frames arriving after shutdown are not taken (no input handler).
  ASSERT_EQ(a->send_echo(kB, kPingId, 2, 56, 0), 0);
  env->run();
  EXPECT_EQ(eth_b->counters().in_no_handler.load(), 1u);
}

// RFC 1122 3.2.1.3 (g): 127/8 is never seen on a network. A datagram from the wire for
// 127.0.0.1 is not ours (Linux drops it as a martian destination); answering it would put a
// loopback source on the wire.
TEST_F(StackTest, LoopbackDestinationFromTheWireIsDropped) {
  ping_once();
  deliver(echo_frame(kB, kA, 1));  // the helper makes a frame A answers
  EXPECT_EQ(stat(*a, "icmp", "echo_replies_sent"), 1u);
  wire->clear_log();
  deliver(echo_frame(kB, ip(127, 0, 0, 1), 2));
  EXPECT_EQ(stat(*a, "icmp", "echo_replies_sent"), 1u);
  EXPECT_EQ(count(0, [](const std::string& f) {
              auto v = ipv4(f);
              return v && (v->source().value >> 24) == 127;
            }),
            0u);
  deliver(echo_frame(ip(127, 0, 0, 1), kA, 3));  // a loopback source from the wire
  EXPECT_EQ(stat(*a, "ip", "bad_source"), 1u);
  EXPECT_EQ(stat(*a, "icmp", "echo_replies_sent"), 1u);
}

TEST_F(StackTest, MalformedOptionsGetAParameterProblemPointingAtTheOctet) {
  ping_once();
  const std::array<std::byte, 4> sound{std::byte{1}, std::byte{1}, std::byte{1}, std::byte{0}};
  deliver(echo_frame(kB, kA, 1, sound));  // NOP NOP NOP EOL: skipped, answered
  EXPECT_EQ(stat(*a, "icmp", "echo_replies_sent"), 1u);
  wire->clear_log();
  // A timestamp option claiming 255 octets in a 4-octet list: the length octet (header offset 21)
  // is in error (RFC 1122 3.2.2.5).
  const std::array<std::byte, 4> lying{std::byte{0x44}, std::byte{0xff}, std::byte{5}, std::byte{0}};
  deliver(echo_frame(kB, kA, 2, lying));
  EXPECT_EQ(stat(*a, "ip", "bad_options"), 1u);
  EXPECT_EQ(stat(*a, "icmp", "echo_replies_sent"), 1u);
  EXPECT_EQ(stat(*a, "icmp", "parameter_problem_sent"), 1u);
  EXPECT_EQ(count(0, [](const std::string& f) {
              if (!is_icmp(f, 12, 0)) return false;
              auto m = wire::Icmpv4View::parse(ipv4(f)->payload());
              return m && m->pointer() == 21;
            }),
            1u);
}

// --- malformed input ---

TEST_F(StackTest, ForeignAndMalformedFramesAreCountedAndDropped) {
  auto deliver = [&](std::string frame) {
    buf::MbufPtr m = buf::packet_from(bytes_of(frame));
    ASSERT_TRUE(m);
    eth_a->input(std::move(m));
    env->run();
  };
  std::string mac_a(reinterpret_cast<const char*>(kMacA.data()), 6);
  std::string mac_b(reinterpret_cast<const char*>(kMacB.data()), 6);
  std::string other("\x02\x00\x00\x00\x00\x99", 6);
  deliver("short");
  EXPECT_EQ(stat(*a, "ether", "truncated"), 1u);
  deliver(other + mac_b + std::string("\x08\x00", 2) + std::string(46, '\0'));
  EXPECT_EQ(stat(*a, "ether", "not_for_us"), 1u);
  deliver(mac_a + mac_a + std::string("\x08\x00", 2) + std::string(46, '\0'));
  EXPECT_EQ(stat(*a, "ether", "from_own_address"), 1u);
  deliver(mac_a + mac_b + std::string("\x86\xdd", 2) + std::string(46, '\0'));
  EXPECT_EQ(stat(*a, "ether", "unknown_ethertype"), 1u);
  deliver(mac_a + mac_b + std::string("\x00\x40", 2) + std::string(46, '\0'));
  EXPECT_EQ(stat(*a, "ether", "llc_frames"), 1u);
  deliver(mac_a + mac_b + std::string("\x81\x00\x00\x05\x08\x00", 6) + std::string(46, '\0'));
  EXPECT_EQ(stat(*a, "ether", "vlan_frames_dropped"), 1u);
  deliver(mac_a + mac_b + std::string("\x08\x00", 2) + std::string(46, '\0'));
  EXPECT_EQ(stat(*a, "ip", "bad_version"), 1u);
  deliver(mac_a + mac_b + std::string("\x08\x06", 2) + std::string(28, '\0'));
  EXPECT_EQ(stat(*a, "arp", "unsupported_hardware"), 1u);
  deliver(mac_a + mac_b + std::string("\x08\x06\x00\x01\x08\x00\x06\x04\x00\x01", 10) +
          std::string(10, '\0'));
  EXPECT_EQ(stat(*a, "arp", "truncated"), 1u);
  EXPECT_TRUE(events.empty());
}

}  // namespace
}  // namespace pktd::inet
