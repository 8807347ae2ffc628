#include "options.h"

#include <net/if.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

namespace pktd_tap {
namespace {

// Linux names are at most IFNAMSIZ - 1 bytes; the kernel checks the characters itself
// (and expands a "%d" pattern, which is why that is allowed through).
bool parse_dev(const pktd_host& host, const char* value, Options& out) {
  size_t len = std::strlen(value);
  if (len == 0 || len >= IFNAMSIZ) {
    host.log(PKTD_LOG_ERROR, "tap: dev= needs a Linux interface name of 1 to %d characters",
             IFNAMSIZ - 1);
    return false;
  }
  out.dev = value;
  return true;
}

bool parse_persist(const pktd_host& host, const char* value, Options& out) {
  if (*value != '\0') {
    host.log(PKTD_LOG_ERROR, "tap: persist takes no value (got persist=%s)", value);
    return false;
  }
  out.persist = true;
  return true;
}

bool parse_rxbatch(const pktd_host& host, const char* value, Options& out) {
  const char* end = value + std::strlen(value);
  uint32_t n = 0;
  auto [ptr, ec] = std::from_chars(value, end, n);
  if (ec != std::errc() || ptr != end || n == 0 || n > kMaxRxBatch) {
    host.log(PKTD_LOG_ERROR, "tap: rxbatch=%s: expected a number from 1 to %u", value,
             kMaxRxBatch);
    return false;
  }
  out.rxbatch = n;
  return true;
}

bool parse_one(const pktd_host& host, const char* key, const char* value, Options& out) {
  if (std::strcmp(key, "dev") == 0) return parse_dev(host, value, out);
  if (std::strcmp(key, "persist") == 0) return parse_persist(host, value, out);
  if (std::strcmp(key, "rxbatch") == 0) return parse_rxbatch(host, value, out);
  host.log(PKTD_LOG_ERROR, "tap: unknown option '%s'", key);
  return false;
}

}  // namespace

int parse_options(const pktd_host& host, const char* text, Options& out) {
  if (text == nullptr) return 0;
  // pktd_next_option splits in place, so it gets a private copy.
  std::vector<char> buf(text, text + std::strlen(text) + 1);
  char* cursor = buf.data();
  char* key = nullptr;
  char* value = nullptr;
  while (pktd_next_option(&cursor, &key, &value) != 0) {
    if (!parse_one(host, key, value, out)) return EINVAL;
  }
  return 0;
}

}  // namespace pktd_tap
