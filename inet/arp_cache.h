// The ARP cache (RFC 826): per interface, IPv4 address -> MAC, with states, timeouts, a size
// limit, and the packets held while an address is being resolved. Pure data: the protocol
// (requests, replies, timers) is in arp.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "buf/mbuf.h"
#include "time/clock.h"
#include "wire/address.h"

namespace pktd::inet {

struct ArpConfig {
  time::Duration reachable_time = std::chrono::seconds(1200);  // BSD net.link.ether.inet.max_age
  time::Duration retransmit = std::chrono::seconds(1);          // between requests (RFC 1122 2.3.2.1: at most one a second)
  uint32_t max_requests = 3;       // then resolution has failed (Linux mcast_solicit)
  size_t max_entries = 1024;       // Linux gc_thresh3
  size_t hold_per_entry = 128;     // packets waiting for one address: a 65535-octet datagram's fragments
  size_t hold_total = 1024;        // packets waiting for any address
};

enum class ArpState : uint8_t { incomplete, reachable, permanent };
const char* to_string(ArpState s);

struct ArpEntry {
  uint32_t ifindex = 0;
  wire::Ipv4Address address;
  wire::MacAddress mac;
  ArpState state = ArpState::incomplete;
  time::TimePoint deadline;     // reachable: expiry; incomplete: when to ask again
  time::TimePoint created;
  uint32_t requests_sent = 0;
  std::vector<buf::MbufPtr> held;  // oldest first
};

class ArpCache {
 public:
  explicit ArpCache(ArpConfig config = {}) : config_(config) {}
  const ArpConfig& config() const { return config_; }
  void set_reachable_time(time::Duration d) { config_.reachable_time = d; }

  ArpEntry* find(uint32_t ifindex, wire::Ipv4Address a);
  // A new incomplete entry. When the cache is full the oldest entry that is not permanent goes
  // first (its held packets are returned in *evicted_held); nullptr if every entry is permanent.
  ArpEntry* create(uint32_t ifindex, wire::Ipv4Address a, time::TimePoint now,
                   std::vector<buf::MbufPtr>* evicted_held);
  // Removes the entry; returns its held packets.
  std::vector<buf::MbufPtr> erase(uint32_t ifindex, wire::Ipv4Address a);
  void erase_interface(uint32_t ifindex, std::vector<buf::MbufPtr>* held);
  // Holds m on e; false (m untouched) when the limits say no.
  bool hold(ArpEntry& e, buf::MbufPtr& m);
  std::vector<buf::MbufPtr> take_held(ArpEntry& e);

  size_t size() const { return entries_.size(); }
  size_t held_total() const { return held_total_; }
  template <typename Fn>
  void for_each(Fn&& fn) {
    for (auto& [key, e] : entries_) fn(e);
  }
  // Entries whose deadline has passed (the caller decides: ask again, fail or expire).
  std::vector<ArpEntry*> due(time::TimePoint now);

 private:
  static uint64_t key(uint32_t ifindex, wire::Ipv4Address a) {
    return (uint64_t{ifindex} << 32) | a.value;
  }
  bool evict_one(std::vector<buf::MbufPtr>* evicted_held);

  ArpConfig config_;
  std::unordered_map<uint64_t, ArpEntry> entries_;
  size_t held_total_ = 0;
};

}  // namespace pktd::inet
