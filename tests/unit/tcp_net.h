// Two TCP layers joined by a simulated network with a fake clock: every segment is emitted as
// octets and parsed again at the other end, so the wire format, checksums and options are real.
// A seeded fault grid (loss, duplication, reordering, corruption, delay) sits on the path; the
// seed is printed by the tests on failure.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "transport/tcp/layer.h"

namespace pktd::tcp::testing {

struct Faults {
  double loss = 0, duplicate = 0, reorder = 0, corrupt = 0;
  time::Duration delay = std::chrono::milliseconds(5);
  time::Duration jitter{};
  // What arrives at a host at one instant is one input batch (TcpLayer::begin_input_batch), as
  // the stack gives TCP what it drained from its input queue at once.
  bool batch_input = false;
};

class SimNet;

class SimHost final : public TcpHost {
 public:
  SimHost(SimNet& net, wire::Ipv4Address address, std::uint16_t mtu = 1500)
      : net_(net), address_(address), mtu_(mtu), layer(*this) {}
  int transmit(wire::Ipv4Address src, wire::Ipv4Address dst, const wire::TcpSegment& segment,
               std::uint8_t ttl, std::uint8_t tos) override;
  bool is_local_address(wire::Ipv4Address a) override { return a == address_; }
  int route(wire::Ipv4Address, wire::Ipv4Address* source, std::uint16_t* mtu) override {
    *source = address_;
    *mtu = mtu_;
    return 0;
  }
  void wake_at(time::TimePoint when) override {
    if (!wake_ || when < *wake_) wake_ = when;
  }

  SimNet& net_;
  wire::Ipv4Address address_;
  std::uint16_t mtu_;
  std::optional<time::TimePoint> wake_;
  std::vector<wire::TcpSegment> sent_headers;  // every segment sent (payload not kept)
  std::vector<time::TimePoint> sent_at;         // when each was sent
  std::size_t largest_payload = 0;
  std::uint8_t last_ttl = 0, last_tos = 0;
  TcpLayer layer;
};

class SimNet {
 public:
  // mtu: both hosts' route MTU (65535 makes segments of 64 KiB, for transfers of gigabytes).
  explicit SimNet(std::uint64_t seed = 1, Faults faults = {}, std::uint16_t mtu = 1500)
      : rng_(seed), faults_(faults), a(*this, {0xC6120001}, mtu), b(*this, {0xC6120002}, mtu) {}

  time::TimePoint now{std::chrono::seconds(1000)};

  // Runs until pred() holds or nothing is left to do or `limit` of simulated time passes.
  // Returns pred().
  bool run_until(const std::function<bool()>& pred, time::Duration limit = std::chrono::seconds(600)) {
    const time::TimePoint end = now + limit;
    while (!pred()) {
      auto next = next_event();
      if (!next || *next > end) return pred();
      now = std::max(now, *next);
      step();
    }
    return true;
  }
  // Runs every event due within d.
  void run_for(time::Duration d) {
    const time::TimePoint end = now + d;
    for (;;) {
      auto next = next_event();
      if (!next || *next > end) break;
      now = std::max(now, *next);
      step();
    }
    now = end;
  }

  void send(wire::Ipv4Address src, wire::Ipv4Address dst, std::vector<std::byte> bytes) {
    std::uniform_real_distribution<double> u(0, 1);
    ++segments;
    if (drop_if && drop_if(src, bytes)) {
      ++lost;
      return;
    }
    if (u(rng_) < faults_.loss) {
      ++lost;
      return;
    }
    if (faults_.corrupt > 0 && u(rng_) < faults_.corrupt && !bytes.empty()) {
      std::uniform_int_distribution<std::size_t> at(0, bytes.size() - 1);
      bytes[at(rng_)] ^= std::byte{0x5A};
      ++corrupted;
    }
    time::Duration d = faults_.delay;
    if (faults_.jitter.count() > 0) {
      std::uniform_int_distribution<std::int64_t> j(0, faults_.jitter.count());
      d += time::Duration(j(rng_));
    }
    if (delay_if) d += delay_if(src, bytes);
    if (u(rng_) < faults_.reorder) {
      d += faults_.delay * 3;  // overtaken by what follows
      ++reordered;
    }
    const int copies = u(rng_) < faults_.duplicate ? 2 : 1;
    if (copies == 2) ++duplicated;
    for (int i = 0; i < copies; ++i) in_flight_.emplace(now + d + time::Duration(i), Packet{src, dst, bytes});
  }

  std::uint64_t segments = 0, lost = 0, corrupted = 0, reordered = 0, duplicated = 0;
  // A targeted loss: segments (as octets) for which this returns true are dropped.
  std::function<bool(wire::Ipv4Address src, const std::vector<std::byte>& segment)> drop_if;
  // A targeted delay: added to the path's delay of the segments it is asked about (reordering).
  std::function<time::Duration(wire::Ipv4Address src, const std::vector<std::byte>& segment)>
      delay_if;
  Faults& faults() { return faults_; }

 private:
  struct Packet {
    wire::Ipv4Address src, dst;
    std::vector<std::byte> bytes;
  };

  std::optional<time::TimePoint> next_event() const {
    std::optional<time::TimePoint> t;
    if (!in_flight_.empty()) t = in_flight_.begin()->first;
    for (const SimHost* h : {&a, &b})
      if (h->wake_ && (!t || *h->wake_ < *t)) t = h->wake_;
    return t;
  }

  void step() {
    if (faults_.batch_input)
      for (SimHost* h : {&a, &b}) h->layer.begin_input_batch();
    while (!in_flight_.empty() && in_flight_.begin()->first <= now) {
      Packet p = std::move(in_flight_.begin()->second);
      in_flight_.erase(in_flight_.begin());
      if (p.dst != a.address_ && p.dst != b.address_) continue;  // nobody there
      SimHost& to = p.dst == a.address_ ? a : b;
      to.layer.input(p.src, p.dst, p.bytes, now);
    }
    if (faults_.batch_input)
      for (SimHost* h : {&a, &b}) h->layer.end_input_batch(now);
    for (SimHost* h : {&a, &b}) {
      if (h->wake_ && *h->wake_ <= now) {
        h->wake_.reset();
        h->layer.run_timers(now);
      }
    }
  }

  std::mt19937_64 rng_;
  Faults faults_;
  std::multimap<time::TimePoint, Packet> in_flight_;

 public:
  SimHost a, b;
};

inline int SimHost::transmit(wire::Ipv4Address src, wire::Ipv4Address dst, const wire::TcpSegment& segment,
                             std::uint8_t ttl, std::uint8_t tos) {
  last_ttl = ttl;
  last_tos = tos;
  std::vector<std::byte> bytes(segment.length());
  if (!segment.emit(bytes, src, dst)) return EINVAL;
  wire::TcpSegment header = segment;
  header.payload = {};
  sent_headers.push_back(header);
  sent_at.push_back(net_.now);
  largest_payload = std::max(largest_payload, segment.payload.size());
  net_.send(src, dst, std::move(bytes));
  return 0;
}

}  // namespace pktd::tcp::testing
