#include "ctl/request_args.h"

#include <cerrno>

#include "ctl/base64.h"
#include "ctl/inet_text.h"

namespace pktd::ctl {

using nlohmann::json;

Error bad_request(int code, std::string text) { return {code, "bad request: " + std::move(text)}; }

const json* RequestArgs::find(const char* key, bool required) {
  if (error) return nullptr;
  auto it = args_.find(key);
  if (it != args_.end()) return &*it;
  if (required) error = bad_request(EINVAL, std::string("missing argument '") + key + "'");
  return nullptr;
}

void RequestArgs::wrong(const char* key, const std::string& expected) {
  error = bad_request(EINVAL, std::string("argument '") + key + "' must be " + expected);
}

std::string RequestArgs::string(const char* key, bool required) {
  const json* v = find(key, required);
  if (v == nullptr) return {};
  if (!v->is_string()) {
    wrong(key, "a string");
    return {};
  }
  return v->get<std::string>();
}

bool RequestArgs::boolean(const char* key, std::optional<bool> fallback) {
  const json* v = find(key, !fallback);
  if (v == nullptr) return fallback.value_or(false);
  if (!v->is_boolean()) {
    wrong(key, "true or false");
    return false;
  }
  return v->get<bool>();
}

uint32_t RequestArgs::u32(const char* key, uint32_t min, uint32_t max,
                          std::optional<uint32_t> fallback) {
  const json* v = find(key, !fallback);
  if (v == nullptr) return fallback.value_or(0);
  // A JSON parser gives non-negative integers as unsigned, negative ones as signed.
  if (!v->is_number_unsigned() || v->get<uint64_t>() < min || v->get<uint64_t>() > max) {
    wrong(key, "an integer from " + std::to_string(min) + " to " + std::to_string(max));
    return 0;
  }
  return static_cast<uint32_t>(v->get<uint64_t>());
}

uint16_t RequestArgs::u16(const char* key, uint16_t min, std::optional<uint16_t> fallback) {
  std::optional<uint32_t> wide;
  if (fallback) wide = *fallback;
  return static_cast<uint16_t>(u32(key, min, UINT16_MAX, wide));
}

uint64_t RequestArgs::u64(const char* key) {
  const json* v = find(key, true);
  if (v == nullptr) return 0;
  if (!v->is_number_unsigned()) {
    wrong(key, "an integer from 0 to 18446744073709551615");
    return 0;
  }
  return v->get<uint64_t>();
}

template <typename Check>
std::string RequestArgs::checked(const char* key, bool required, const char* expected,
                                 Check valid) {
  const json* v = find(key, required);
  if (v == nullptr) return {};
  std::string text = v->is_string() ? v->get<std::string>() : std::string();
  if (!v->is_string() || !valid(text)) {
    wrong(key, expected);
    return {};
  }
  return text;
}

std::string RequestArgs::ipv4(const char* key, bool required) {
  return checked(key, required, "an IPv4 address (A.B.C.D)", [required](const std::string& t) {
    return (!required && t.empty()) || parse_ipv4(t).has_value();
  });
}

std::string RequestArgs::prefix(const char* key) {
  return checked(key, true, "an IPv4 address and prefix length (A.B.C.D/LEN)",
                 [](const std::string& t) { return parse_prefix(t).has_value(); });
}

std::string RequestArgs::route_destination(const char* key) {
  return checked(key, true, "default, A.B.C.D or A.B.C.D/LEN",
                 [](const std::string& t) { return is_route_destination(t); });
}

std::string RequestArgs::mac(const char* key) {
  return checked(key, true, "a MAC address (xx:xx:xx:xx:xx:xx)", [](std::string& t) {
    auto mac = normalize_mac(t);
    if (mac) t = *mac;
    return mac.has_value();
  });
}

std::string RequestArgs::octets(const char* key, size_t max_octets) {
  std::string expected = "base64 of at most " + std::to_string(max_octets) + " octets";
  return checked(key, true, expected.c_str(), [max_octets](std::string& t) {
    auto decoded = base64_decode(t);
    if (decoded) t = std::move(*decoded);
    return decoded && t.size() <= max_octets;
  });
}

}  // namespace pktd::ctl
