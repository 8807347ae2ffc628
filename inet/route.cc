#include "inet/route.h"

#include <algorithm>
#include <cerrno>

namespace pktd::inet {

std::string route_flags_text(uint32_t flags) {
  std::string out;
  if (flags & kRouteUp) out += 'U';
  if (flags & kRouteGateway) out += 'G';
  if (flags & kRouteHost) out += 'H';
  if (flags & kRouteStatic) out += 'S';
  if (flags & kRouteConnected) out += 'C';
  if (flags & kRouteLocal) out += 'L';
  return out;
}

int RouteTable::add(const Route& route) {
  if (route.prefix_len > 32) return EINVAL;
  if ((route.destination.value & ~prefix_mask(route.prefix_len)) != 0) return EINVAL;
  if (find(route.destination, route.prefix_len) != nullptr) return EEXIST;
  auto at = std::find_if(routes_.begin(), routes_.end(),
                         [&](const Route& r) { return r.prefix_len < route.prefix_len; });
  Route r = route;
  if (r.prefix_len == 32) r.flags |= kRouteHost;
  routes_.insert(at, r);
  return 0;
}

int RouteTable::remove(Ipv4Address destination, uint8_t prefix_len) {
  auto it = std::find_if(routes_.begin(), routes_.end(), [&](const Route& r) {
    return r.destination == destination && r.prefix_len == prefix_len;
  });
  if (it == routes_.end()) return ESRCH;
  routes_.erase(it);
  return 0;
}

void RouteTable::remove_interface(uint32_t ifindex) {
  std::erase_if(routes_, [&](const Route& r) { return r.ifindex == ifindex; });
}

void RouteTable::remove_connected(uint32_t ifindex, Ipv4Address destination, uint8_t prefix_len) {
  std::erase_if(routes_, [&](const Route& r) {
    return r.ifindex == ifindex && (r.flags & (kRouteConnected | kRouteLocal)) != 0 &&
           r.destination == destination && r.prefix_len == prefix_len;
  });
}

const Route* RouteTable::lookup(Ipv4Address a) const {
  for (const Route& r : routes_)
    if (in_prefix(a, r.destination, r.prefix_len)) return &r;
  return nullptr;
}

const Route* RouteTable::find(Ipv4Address destination, uint8_t prefix_len) const {
  for (const Route& r : routes_)
    if (r.destination == destination && r.prefix_len == prefix_len) return &r;
  return nullptr;
}

}  // namespace pktd::inet
