// Option parsing every in-tree driver does the same way: "a=1,b,c=x" one option at a time, with
// numbers in a range and bare flags, errors logged with the driver's name. Header-only.
#pragma once

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <vector>

#include "pktd/driver.h"

namespace pktd_kit {

// A decimal number from lo to hi; otherwise logs "DRIVER: KEY=VALUE: expected a number from LO
// to HI" and returns false.
inline bool parse_u32(const pktd_host& host, const char* driver, const char* key,
                      const char* value, uint32_t lo, uint32_t hi, uint32_t& out) {
  const char* end = value + std::strlen(value);
  uint32_t n = 0;
  auto [ptr, ec] = std::from_chars(value, end, n);
  if (ec != std::errc() || ptr != end || ptr == value || n < lo || n > hi) {
    host.log(PKTD_LOG_ERROR, "%s: %s=%s: expected a number from %u to %u", driver, key, value,
             lo, hi);
    return false;
  }
  out = n;
  return true;
}

// A bare key ("persist"); one with a value is refused.
inline bool parse_flag(const pktd_host& host, const char* driver, const char* key,
                       const char* value, bool& out) {
  if (*value != '\0') {
    host.log(PKTD_LOG_ERROR, "%s: %s takes no value (got %s=%s)", driver, key, key, value);
    return false;
  }
  out = true;
  return true;
}

// Calls parse(key, value) for each option of text until one returns false: then EINVAL, else 0.
// text may be null (no options).
template <typename Parse>
int for_each_option(const char* text, Parse&& parse) {
  if (text == nullptr) return 0;
  std::vector<char> buf(text, text + std::strlen(text) + 1);  // split in place: a private copy
  char* cursor = buf.data();
  char* key = nullptr;
  char* value = nullptr;
  while (pktd_next_option(&cursor, &key, &value) != 0)
    if (!parse(static_cast<const char*>(key), static_cast<const char*>(value))) return EINVAL;
  return 0;
}

}  // namespace pktd_kit
