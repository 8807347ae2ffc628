// The IPv4 routing table: longest-prefix match over connected, local, static and default routes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wire/address.h"

namespace pktd::inet {

using wire::Ipv4Address;

// netstat -rn's letters.
enum RouteFlag : uint32_t {
  kRouteUp = 1u << 0,         // U
  kRouteGateway = 1u << 1,    // G: the next hop is a gateway, not the destination
  kRouteHost = 1u << 2,       // H: a /32
  kRouteStatic = 1u << 3,     // S: added by the user
  kRouteConnected = 1u << 4,  // C: made from an interface address
  kRouteLocal = 1u << 5,      // L: one of our own addresses, delivered through lo0
};
std::string route_flags_text(uint32_t flags);

constexpr uint32_t prefix_mask(uint8_t prefix_len) {
  return prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - prefix_len);
}
constexpr bool in_prefix(Ipv4Address a, Ipv4Address network, uint8_t prefix_len) {
  return (a.value & prefix_mask(prefix_len)) == (network.value & prefix_mask(prefix_len));
}

struct Route {
  Ipv4Address destination;  // the network (host bits zero)
  uint8_t prefix_len = 0;
  std::optional<Ipv4Address> gateway;
  uint32_t ifindex = 0;
  uint32_t flags = kRouteUp;
  Ipv4Address source;       // preferred source for connected and local routes (0: choose)
  mutable uint64_t use = 0;
};

class RouteTable {
 public:
  // EEXIST if a route to the same prefix exists, EINVAL if host bits are set.
  int add(const Route& route);
  // ESRCH if none.
  int remove(Ipv4Address destination, uint8_t prefix_len);
  // Every route through the interface (it is going away) or made from one address.
  void remove_interface(uint32_t ifindex);
  void remove_connected(uint32_t ifindex, Ipv4Address destination, uint8_t prefix_len);
  // The most specific route covering a (RFC 1812 5.2.4.3), or nullptr.
  const Route* lookup(Ipv4Address a) const;
  const Route* find(Ipv4Address destination, uint8_t prefix_len) const;
  const std::vector<Route>& routes() const { return routes_; }  // most specific first

 private:
  std::vector<Route> routes_;  // sorted by prefix length, longest first
};

}  // namespace pktd::inet
