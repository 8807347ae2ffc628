// IPv4 and MAC addresses as text, checked the same way by the server (at parse time) and by
// pkt (before it asks). Addresses are numeric only: there is no resolver.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pktd::ctl {

// "198.18.0.1" -> 0xc6120001 (host order). Dotted quad only (inet_pton's rules).
std::optional<uint32_t> parse_ipv4(std::string_view text);
std::string format_ipv4(uint32_t address);

struct Ipv4Prefix {
  uint32_t address = 0;
  uint32_t length = 0;  // 0 to 32
};
// "198.18.0.0/24".
std::optional<Ipv4Prefix> parse_prefix(std::string_view text);

// A route's destination: "default", "A.B.C.D" (a host) or "A.B.C.D/LEN".
bool is_route_destination(std::string_view text);

// 24 -> 0xffffff00; and back, for contiguous masks only.
uint32_t netmask_of(uint32_t prefix_length);
std::optional<uint32_t> prefix_length_of(uint32_t netmask);

// "2:70:0:0:0:A2" (one or two hex digits per octet, ':' between) -> "02:70:00:00:00:a2".
std::optional<std::string> normalize_mac(std::string_view text);

}  // namespace pktd::ctl
