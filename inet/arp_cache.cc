#include "inet/arp_cache.h"

#include <utility>

namespace pktd::inet {

const char* to_string(ArpState s) {
  switch (s) {
    case ArpState::incomplete: return "incomplete";
    case ArpState::reachable: return "reachable";
    case ArpState::permanent: return "permanent";
  }
  return "unknown";
}

ArpEntry* ArpCache::find(uint32_t ifindex, wire::Ipv4Address a) {
  auto it = entries_.find(key(ifindex, a));
  return it == entries_.end() ? nullptr : &it->second;
}

ArpEntry* ArpCache::create(uint32_t ifindex, wire::Ipv4Address a, time::TimePoint now,
                           std::vector<buf::MbufPtr>* evicted_held) {
  if (entries_.size() >= config_.max_entries && !evict_one(evicted_held)) return nullptr;
  ArpEntry& e = entries_[key(ifindex, a)];
  e.ifindex = ifindex;
  e.address = a;
  e.state = ArpState::incomplete;
  e.created = now;
  e.deadline = now;
  return &e;
}

// A flood of unresolvable destinations fills the cache with incomplete entries: the oldest of
// those goes first, so resolution keeps working for new destinations and a flood cannot push out
// the neighbours in use (the gateway). Without one, the reachable entry closest to expiry goes.
bool ArpCache::evict_one(std::vector<buf::MbufPtr>* evicted_held) {
  auto victim = entries_.end();
  auto better = [](const ArpEntry& a, const ArpEntry& b) {
    bool a_incomplete = a.state == ArpState::incomplete, b_incomplete = b.state == ArpState::incomplete;
    if (a_incomplete != b_incomplete) return a_incomplete;
    return a_incomplete ? a.created < b.created : a.deadline < b.deadline;
  };
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->second.state == ArpState::permanent) continue;
    if (victim == entries_.end() || better(it->second, victim->second)) victim = it;
  }
  if (victim == entries_.end()) return false;
  for (auto& m : take_held(victim->second)) evicted_held->push_back(std::move(m));
  entries_.erase(victim);
  return true;
}

std::vector<buf::MbufPtr> ArpCache::erase(uint32_t ifindex, wire::Ipv4Address a) {
  std::vector<buf::MbufPtr> held;
  auto it = entries_.find(key(ifindex, a));
  if (it == entries_.end()) return held;
  held = take_held(it->second);
  entries_.erase(it);
  return held;
}

void ArpCache::erase_interface(uint32_t ifindex, std::vector<buf::MbufPtr>* held) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.ifindex != ifindex) {
      ++it;
      continue;
    }
    for (auto& m : take_held(it->second)) held->push_back(std::move(m));
    it = entries_.erase(it);
  }
}

bool ArpCache::hold(ArpEntry& e, buf::MbufPtr& m) {
  if (e.held.size() >= config_.hold_per_entry || held_total_ >= config_.hold_total) return false;
  e.held.push_back(std::move(m));
  ++held_total_;
  return true;
}

std::vector<buf::MbufPtr> ArpCache::take_held(ArpEntry& e) {
  held_total_ -= e.held.size();
  return std::exchange(e.held, {});
}

std::vector<ArpEntry*> ArpCache::due(time::TimePoint now) {
  std::vector<ArpEntry*> out;
  for (auto& [k, e] : entries_)
    if (e.state != ArpState::permanent && e.deadline <= now) out.push_back(&e);
  return out;
}

}  // namespace pktd::inet
