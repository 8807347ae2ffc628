// Reading one request's arguments with their types and ranges checked. The first problem is
// kept (error) and later reads return defaults, so a reader reads every argument of its op and
// looks at error once. Messages name the argument: "argument 'ttl' must be an integer from 1
// to 255".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "ctl/backend.h"

namespace pktd::ctl {

Error bad_request(int code, std::string text);  // "bad request: " + text

class RequestArgs {
 public:
  explicit RequestArgs(const nlohmann::json& args) : args_(args) {}
  Error error;

  // Each reads key; a missing key is an error when required, else the fallback.
  std::string string(const char* key, bool required = true);
  bool boolean(const char* key, std::optional<bool> fallback = std::nullopt);
  uint32_t u32(const char* key, uint32_t min = 0, uint32_t max = UINT32_MAX,
               std::optional<uint32_t> fallback = std::nullopt);
  uint16_t u16(const char* key, uint16_t min = 0, std::optional<uint16_t> fallback = std::nullopt);
  uint64_t u64(const char* key);

  // Text with a form: "A.B.C.D" ("" too when not required), "A.B.C.D/LEN", a route
  // destination, a MAC address (returned normalized), base64 (returned decoded, at most
  // max_octets).
  std::string ipv4(const char* key, bool required = true);
  std::string prefix(const char* key);
  std::string route_destination(const char* key);
  std::string mac(const char* key);
  std::string octets(const char* key, size_t max_octets);

 private:
  const nlohmann::json* find(const char* key, bool required);
  void wrong(const char* key, const std::string& expected);
  // The string at key, checked by valid (which may rewrite it); "" on any problem.
  template <typename Check>
  std::string checked(const char* key, bool required, const char* expected, Check valid);

  const nlohmann::json& args_;
};

}  // namespace pktd::ctl
