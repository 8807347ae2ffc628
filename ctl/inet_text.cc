#include "ctl/inet_text.h"

#include <arpa/inet.h>

#include <cstdio>

namespace pktd::ctl {

namespace {

bool all_digits(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "a2" or "2" -> the octet.
std::optional<unsigned> parse_mac_octet(std::string_view text) {
  if (text.empty() || text.size() > 2) return std::nullopt;
  unsigned value = 0;
  for (char c : text) {
    int d = hex_digit(c);
    if (d < 0) return std::nullopt;
    value = value * 16 + static_cast<unsigned>(d);
  }
  return value;
}

}  // namespace

std::optional<uint32_t> parse_ipv4(std::string_view text) {
  if (text.size() > 15) return std::nullopt;
  std::string copy(text);  // inet_pton needs the terminating zero
  in_addr addr{};
  if (inet_pton(AF_INET, copy.c_str(), &addr) != 1) return std::nullopt;
  return ntohl(addr.s_addr);
}

std::string format_ipv4(uint32_t address) {
  char text[16];
  std::snprintf(text, sizeof text, "%u.%u.%u.%u", address >> 24, (address >> 16) & 0xffu,
                (address >> 8) & 0xffu, address & 0xffu);
  return text;
}

std::optional<Ipv4Prefix> parse_prefix(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto address = parse_ipv4(text.substr(0, slash));
  std::string_view length = text.substr(slash + 1);
  if (!address || !all_digits(length) || length.size() > 2) return std::nullopt;
  uint32_t n = static_cast<uint32_t>(std::stoul(std::string(length)));
  if (n > 32) return std::nullopt;
  return Ipv4Prefix{*address, n};
}

bool is_route_destination(std::string_view text) {
  return text == "default" || parse_ipv4(text) || parse_prefix(text);
}

uint32_t netmask_of(uint32_t prefix_length) {
  return prefix_length == 0 ? 0 : ~uint32_t{0} << (32 - (prefix_length > 32 ? 32 : prefix_length));
}

std::optional<uint32_t> prefix_length_of(uint32_t netmask) {
  uint32_t length = 0;
  while (length < 32 && (netmask & (0x80000000u >> length)) != 0) ++length;
  if (netmask_of(length) != netmask) return std::nullopt;
  return length;
}

std::optional<std::string> normalize_mac(std::string_view text) {
  std::string out;
  for (int i = 0; i < 6; ++i) {
    size_t colon = i < 5 ? text.find(':') : text.size();
    if (colon == std::string_view::npos) return std::nullopt;
    auto octet = parse_mac_octet(text.substr(0, colon));
    if (!octet) return std::nullopt;
    char hex[4];
    std::snprintf(hex, sizeof hex, "%02x", *octet);
    out += (i > 0 ? ":" : "") + std::string(hex);
    text.remove_prefix(i < 5 ? colon + 1 : colon);
  }
  return out;
}

}  // namespace pktd::ctl
