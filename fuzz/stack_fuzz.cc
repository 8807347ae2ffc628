// libFuzzer target for the IPv4 stack as a whole, with state carried across one input.
//
// Each input builds a fresh world: a Stack on a TestEnv (manual clock, timing wheel, posted work),
// lo0 and an Ethernet interface eth0 with 198.18.1.1/24 whose driver frees whatever it is given.
// The input is a sequence of records, each one op octet, a 16-bit little-endian length and that
// many octets of data (a short last record takes what is left):
//
//   op % 6 == 0  the data is a frame received on eth0 (then the world runs until idle)
//   op % 6 == 1  time moves forward by a data-derived number of milliseconds (timers fire)
//   op % 6 == 2  administration: add or delete an address or a route, set or delete ARP entries
//   op % 6 == 3  the stack sends: a ping, a UDP datagram or a raw IPv4 payload
//   op % 6 == 4  a frame built from a compact description with lengths and checksums made right
//                (random bytes rarely carry a valid checksum; this reaches what is behind them)
//   op % 6 == 5  capture sessions start and stop; eth0 is destroyed and made again (with frames
//                still waiting in the stack's input queue)
//
// At the end everything is destroyed and every packet buffer must be back in the pool: a leak
// aborts, as do the sanitizers on any memory error.
#include <algorithm>
#include <cerrno>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/thread_identity.h"
#include "buf/mbuf.h"
#include "inet/stack.h"
#include "net/interfaces.h"
#include "tests/support/test_env.h"
#include "wire/checksum.h"
#include "wire/endian.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"

namespace {

using namespace pktd;  // NOLINT(google-build-using-namespace)
using wire::Ipv4Address;
using Bytes = std::span<const std::byte>;

constexpr net::Mac kOurMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
constexpr net::Mac kPeerMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
constexpr Ipv4Address kOurAddress = Ipv4Address::from_octets(198, 18, 1, 1);

// --- the sink driver: sends nowhere, frees everything ---

int sink_init(pktd_ifnet* handle, void*) {
  net::Ifnet::from(handle)->set_driver_flags(PKTD_IFF_RUNNING, 0);
  return 0;
}

void sink_start(pktd_ifnet* handle, void*) {
  net::Ifnet* ifp = net::Ifnet::from(handle);
  std::vector<buf::Mbuf*> batch;
  while (buf::Mbuf* m = ifp->dequeue()) batch.push_back(m);
  ifp->tx_unlock();
  for (buf::Mbuf* m : batch) {
    ifp->counters().opackets.fetch_add(1, std::memory_order_relaxed);
    buf::Pool::instance().free_chain(m);
  }
}

void sink_stop(pktd_ifnet* handle, void*, int) {
  net::Ifnet::from(handle)->set_driver_flags(0, PKTD_IFF_RUNNING | PKTD_IFF_OACTIVE);
}

const pktd_if_ops kSinkOps = {sink_init, sink_start, sink_stop, nullptr, nullptr};

// --- reading the input ---

class Reader {
 public:
  explicit Reader(Bytes b) : b_(b) {}
  bool empty() const { return at_ >= b_.size(); }
  size_t left() const { return b_.size() - at_; }
  uint8_t u8() { return at_ < b_.size() ? wire::load_u8(b_, at_++) : 0; }
  uint16_t u16() {
    uint16_t lo = u8();
    return static_cast<uint16_t>(lo | (uint16_t{u8()} << 8));
  }
  uint32_t u32() {
    uint32_t lo = u16();
    return lo | (uint32_t{u16()} << 16);
  }
  Bytes take(size_t n) {
    n = std::min(n, left());
    Bytes out = b_.subspan(at_, n);
    at_ += n;
    return out;
  }
  Bytes rest() { return take(left()); }

 private:
  Bytes b_;
  size_t at_ = 0;
};

// An address worth trying, from one selector octet and (for some) more data: ours, the peer,
// the broadcasts, loopback, multicast, any host on our subnet, or four raw octets.
Ipv4Address address(Reader& r) {
  uint8_t sel = r.u8();
  switch (sel % 12) {
    case 0: return kOurAddress;
    case 1: return Ipv4Address::from_octets(198, 18, 1, 2);
    case 2: return Ipv4Address::from_octets(198, 18, 1, 255);
    case 3: return Ipv4Address{0xFFFFFFFFu};
    case 4: return Ipv4Address{};
    case 5: return Ipv4Address::from_octets(127, 0, 0, 1);
    case 6: return Ipv4Address::from_octets(224, 0, 0, 1);
    case 7: return Ipv4Address::from_octets(198, 18, 1, r.u8());
    case 8: return Ipv4Address::from_octets(198, 18, 2, r.u8());  // an alias subnet
    case 9: return Ipv4Address::from_octets(10, r.u8(), r.u8(), r.u8());
    case 10: return Ipv4Address::from_octets(198, 18, 1, 1 + (sel >> 4));
    default: return Ipv4Address{r.u32()};
  }
}

net::Mac mac(Reader& r, uint8_t sel) {
  switch (sel % 4) {
    case 0: return kOurMac;
    case 1: return {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    case 2: return kPeerMac;
    default: {
      net::Mac m{};
      for (auto& o : m) o = r.u8();
      return m;
    }
  }
}

// --- the world ---

struct World {
  test::TestEnv env;
  net::Interfaces ifs;
  std::unique_ptr<inet::Stack> stack;
  net::Ifnet* lo = nullptr;
  net::Ifnet* eth = nullptr;
  std::shared_ptr<inet::UdpSocket> socket = std::make_shared<inet::UdpSocket>();
  std::vector<uint64_t> captures;
  uint16_t next_sequence = 0;

  static inet::StackConfig config() {
    inet::StackConfig c;
    // Small limits, so an input of a few kilobytes reaches them.
    c.arp.reachable_time = std::chrono::seconds(60);
    c.arp.max_entries = 6;
    c.arp.hold_per_entry = 4;
    c.arp.hold_total = 24;
    c.reassembly.timeout = std::chrono::seconds(5);
    c.reassembly.max_queues = 8;
    c.reassembly.max_bytes = 64 * 1024;
    c.reassembly.max_fragments = 24;
    c.input_queue_max = 64;
    c.icmp_error_burst = 20;
    c.icmp_errors_per_second = 100;
    return c;
  }

  World() {
    lo = net::attach_loopback(ifs);
    stack = std::make_unique<inet::Stack>(env, ifs, config());
    if (lo == nullptr) std::abort();
    make_eth();
    (void)stack->listen_echo(1, [](const inet::EchoEvent&) {});
    socket->receive_limit = 4096;
    (void)stack->udp().bind(socket, {Ipv4Address{}, 7});
    env.run();
  }

  ~World() {
    stack.reset();  // before the interfaces it holds frames and routes for
    env.discard_posted();
  }

  void make_eth() {
    net::Ifnet::Config c;
    c.mac = kOurMac;
    c.flags = PKTD_IFF_BROADCAST | PKTD_IFF_SIMPLEX | PKTD_IFF_MULTICAST;
    c.ops = &kSinkOps;
    eth = ifs.attach("eth", 0, c);
    if (eth == nullptr || eth->set_up(true) != 0) std::abort();
    eth->set_link_state(net::LinkState::up);
    // Again after a re-creation the address may be taken by then (EEXIST): that is fine.
    int err = stack->add_address(eth->index(), {kOurAddress, 24}, false);
    if (err != 0 && err != EEXIST) std::abort();
  }

  uint32_t ifindex(uint8_t sel) const {
    switch (sel % 4) {
      case 0: return lo->index();
      case 3: return 99;  // no such interface
      default: return eth->index();
    }
  }

  void receive(net::Ifnet& ifp, Bytes frame) {
    buf::MbufPtr m = buf::packet_from(frame, buf::Wait::nowait);
    if (!m) return;
    ifp.input(std::move(m));
    env.run();
    // Read what UDP delivered, so the socket's queue does not stay full.
    inet::ReceivedDatagram d;
    while (socket->pop(&d)) {
    }
  }

  void advance(Reader& r) {
    uint32_t ms = r.u16();
    if (r.u8() & 1) ms *= 2;  // up to about two minutes
    env.advance(std::chrono::milliseconds(ms));
  }

  void administer(Reader& r) {
    uint8_t what = r.u8();
    uint32_t ifx = ifindex(r.u8());
    Ipv4Address a = address(r);
    auto prefix = static_cast<uint8_t>(r.u8() % 34);  // 33: invalid
    switch (what % 7) {
      case 0: (void)stack->add_address(ifx, {a, prefix}, (what & 0x80) != 0); break;
      case 1: (void)stack->delete_address(ifx, a); break;
      case 2: {
        std::optional<Ipv4Address> gateway;
        if ((what & 0x80) != 0) gateway = address(r);
        Ipv4Address network{a.value & inet::prefix_mask(std::min<uint8_t>(prefix, 32))};
        (void)stack->add_route(network, prefix, gateway, ifx);
        break;
      }
      case 3: (void)stack->delete_route(a, prefix); break;
      case 4: {
        net::Mac m = mac(r, r.u8());
        (void)stack->arp_set_permanent(a, wire::MacAddress{m});
        break;
      }
      case 5: (void)stack->arp_delete(a); break;
      default:
        if ((what & 0x80) != 0) {
          stack->announce(ifx);
        } else {
          auto ms = std::chrono::milliseconds(r.u16());
          stack->set_arp_reachable_time(ms + std::chrono::seconds(1));
        }
        break;
    }
    env.run();
  }

  void send(Reader& r) {
    uint8_t what = r.u8();
    Ipv4Address to = address(r);
    switch (what % 3) {
      case 0: {
        size_t size = r.u16() % 66000;
        uint8_t ttl = r.u8();
        // A sweep of consecutive addresses (an ARP cache filler) or one.
        uint32_t count = (what & 0x40) != 0 ? 1 + r.u8() % 32u : 1;
        for (uint32_t i = 0; i < count; ++i)
          (void)stack->send_echo(Ipv4Address{to.value + i}, 1, next_sequence++, size, ttl);
        break;
      }
      case 1: {
        Ipv4Address from = (what & 0x80) != 0 ? address(r) : Ipv4Address{};
        uint16_t from_port = r.u16();
        uint16_t to_port = r.u16();
        size_t repeat = (what & 0x40) != 0 ? 1 + r.u8() % 64 : 1;
        Bytes data = r.rest();
        for (size_t i = 0; i < repeat; ++i)
          (void)stack->udp_output({from, from_port}, {to, to_port}, data);
        break;
      }
      default: {
        inet::Stack::SendOptions o;
        uint8_t flags = r.u8();
        if ((flags & 1) != 0) o.source = address(r);
        o.ttl = r.u8();
        o.tos = r.u8();
        o.dont_fragment = (flags & 2) != 0;
        uint8_t protocol = r.u8();
        size_t pad = (flags & 4) != 0 ? size_t{r.u16()} % 66000 : 0;
        Bytes data = r.rest();
        buf::MbufPtr m = buf::packet_from(data, buf::Wait::nowait);
        if (!m) break;
        if (pad != 0) {
          std::vector<std::byte> zeros(pad);
          if (!buf::append(*m, zeros)) break;
        }
        if (m->pkthdr.len == 0) break;
        (void)stack->ip_output(std::move(m), protocol, to, o);
        break;
      }
    }
    env.run();
  }

  // A frame from a description: link addresses, then ARP or IPv4 with the checksums right.
  void crafted(Reader& r) {
    uint8_t flags = r.u8();
    std::vector<std::byte> f(14);
    net::Mac dst = mac(r, flags);
    net::Mac src = (flags & 0x04) != 0 ? mac(r, r.u8()) : kPeerMac;
    wire::store_mac(f, 0, wire::MacAddress{dst});
    wire::store_mac(f, 6, wire::MacAddress{src});
    const bool on_loopback = (flags & 0x08) != 0;
    switch ((flags >> 4) % 4) {
      case 0:
      case 1:
        wire::store_be16(f, 12, wire::kEthertypeIpv4);
        ipv4(r, f);
        break;
      case 2: {
        wire::store_be16(f, 12, wire::kEthertypeArp);
        std::array<std::byte, 28> p{};
        wire::store_be16(p, 0, 1);
        wire::store_be16(p, 2, wire::kEthertypeIpv4);
        wire::store_u8(p, 4, 6);
        wire::store_u8(p, 5, 4);
        uint8_t op = r.u8();
        wire::store_be16(p, 6, static_cast<uint16_t>(op % 4));  // 0 and 3: bad operations
        wire::store_mac(p, 8, wire::MacAddress{(op & 0x10) != 0 ? mac(r, r.u8()) : kPeerMac});
        wire::store_ipv4(p, 14, address(r));
        wire::store_mac(p, 18, wire::MacAddress{mac(r, r.u8())});
        wire::store_ipv4(p, 24, address(r));
        f.insert(f.end(), p.begin(), p.end());
        break;
      }
      default: {
        wire::store_be16(f, 12, r.u16());
        Bytes rest = r.rest();
        f.insert(f.end(), rest.begin(), rest.end());
        break;
      }
    }
    if (on_loopback) {
      // lo0 carries bare IPv4.
      receive(*lo, Bytes(f).subspan(14));
    } else {
      receive(*eth, f);
    }
  }

  // An IPv4 packet appended to f: header fields from the description, options and payload from
  // the data, Total Length and checksums computed (unless the description says to spoil them).
  static void ipv4(Reader& r, std::vector<std::byte>& f) {
    const size_t at = f.size();
    uint8_t flags = r.u8();
    Ipv4Address src = address(r);
    Ipv4Address dst = address(r);
    uint8_t protocol_sel = r.u8();
    uint8_t protocol = protocol_sel % 4 == 0 ? wire::kIpProtocolIcmp
                       : protocol_sel % 4 == 1 ? wire::kIpProtocolUdp
                       : protocol_sel % 4 == 2 ? static_cast<uint8_t>(protocol_sel >> 2)
                                               : static_cast<uint8_t>(6);
    uint16_t fragment = r.u16();  // flags (reserved, DF, MF) and offset, as on the wire
    uint16_t id = r.u8();
    uint8_t ttl = r.u8();
    size_t options = static_cast<size_t>((flags >> 4) % 11) * 4;
    Bytes option_bytes = r.take(options);
    uint16_t pad = (flags & 0x08) != 0 ? r.u16() : 0;  // zeros after the data: big packets
    Bytes payload = r.rest();

    size_t ihl = 20 + option_bytes.size();
    size_t total = ihl + payload.size() + pad;
    f.resize(at + total);
    std::span<std::byte> p = std::span(f).subspan(at);
    wire::store_u8(p, 0, static_cast<uint8_t>(0x40 | (ihl / 4)));
    wire::store_u8(p, 1, 0);
    wire::store_be16(p, 2, static_cast<uint16_t>(std::min<size_t>(total, 0xFFFF)));
    wire::store_be16(p, 4, id);
    wire::store_be16(p, 6, fragment);
    wire::store_u8(p, 8, ttl);
    wire::store_u8(p, 9, protocol);
    wire::store_be16(p, 10, 0);
    wire::store_ipv4(p, 12, src);
    wire::store_ipv4(p, 16, dst);
    std::copy(option_bytes.begin(), option_bytes.end(), p.begin() + 20);
    std::copy(payload.begin(), payload.end(), p.begin() + static_cast<std::ptrdiff_t>(ihl));
    std::span<std::byte> body = p.subspan(ihl);
    const bool whole = (fragment & 0x3FFF) == 0;  // neither MF nor an offset
    if ((flags & 1) == 0 && whole) {
      if (protocol == wire::kIpProtocolIcmp && body.size() >= 8) {
        wire::store_be16(body, 2, 0);
        wire::store_be16(body, 2, wire::internet_checksum(body));
      } else if (protocol == wire::kIpProtocolUdp && body.size() >= 8 && body.size() <= 0xFFFF) {
        wire::store_be16(body, 4, static_cast<uint16_t>(body.size()));
        wire::store_be16(body, 6, 0);
        wire::InternetChecksum sum;
        wire::Ipv4PseudoHeader{src, dst, protocol, static_cast<uint16_t>(body.size())}.add_to(sum);
        sum.add(body);
        uint16_t c = sum.finish();
        wire::store_be16(body, 6, c == 0 ? 0xFFFF : c);
      }
    }
    if ((flags & 2) == 0) wire::store_be16(p, 10, wire::internet_checksum(p.first(ihl)));
    if ((flags & 4) != 0 && total > 20)
      f.resize(at + total - 1 - (payload.size() % 7));  // a truncated packet
  }

  void capture(Reader& r) {
    uint8_t what = r.u8();
    if ((what & 0x80) != 0) {
      // Frames queued (not yet drained) for an interface that then goes away.
      Bytes frame = r.rest();
      for (uint8_t i = 0; i < (what & 7); ++i) {
        buf::MbufPtr m = buf::packet_from(frame, buf::Wait::nowait);
        if (m) eth->input(std::move(m));
      }
      ifs.destroy(eth);
      eth = nullptr;
      env.run();
      make_eth();
      env.run();
      return;
    }
    if ((what & 1) != 0 || captures.empty()) {
      uint64_t id = stack->capture_start(ifindex(r.u8()), r.u16());
      if (id != 0) captures.push_back(id);
    } else {
      size_t i = r.u8() % captures.size();
      stack->captures().stop(captures[i]);
      captures.erase(captures.begin() + static_cast<std::ptrdiff_t>(i));
    }
    env.run();
  }
};

void run(Bytes input) {
  World w;
  Reader in(input);
  size_t records = 0;
  while (!in.empty() && records++ < 256) {
    uint8_t op = in.u8();
    uint16_t len = in.u16();
    Reader data(in.take(len));
    switch (op % 6) {
      case 0: w.receive(*w.eth, data.rest()); break;
      case 1: w.advance(data); break;
      case 2: w.administer(data); break;
      case 3: w.send(data); break;
      case 4: w.crafted(data); break;
      default: w.capture(data); break;
    }
  }
  // Whatever timers are left run too: ARP failures, reassembly timeouts, idle captures.
  w.env.advance(std::chrono::seconds(10));
  if (w.stack->statistics().empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  pktd::register_current_thread(pktd::ThreadKind::main, "stack-fuzz");
  pktd::log::set_level(pktd::log::Level::error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  run(std::as_bytes(std::span(data, size)));
  std::string report;
  if (!buf::Pool::instance().check_no_leaks(&report)) {
    std::fprintf(stderr, "stack_fuzz: packet buffers leaked: %s\n", report.c_str());
    std::abort();
  }
  return 0;
}
