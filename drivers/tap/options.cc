#include "options.h"

#include "option_parse.h"

#include <net/if.h>

#include <cerrno>
#include <cstring>

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

bool parse_one(const pktd_host& host, const char* key, const char* value, Options& out) {
  if (std::strcmp(key, "dev") == 0) return parse_dev(host, value, out);
  if (std::strcmp(key, "persist") == 0)
    return pktd_kit::parse_flag(host, "tap", key, value, out.persist);
  if (std::strcmp(key, "rxbatch") == 0)
    return pktd_kit::parse_u32(host, "tap", key, value, 1, kMaxRxBatch, out.rxbatch);
  host.log(PKTD_LOG_ERROR, "tap: unknown option '%s'", key);
  return false;
}

}  // namespace

int parse_options(const pktd_host& host, const char* text, Options& out) {
  return pktd_kit::for_each_option(
      text, [&](const char* key, const char* value) { return parse_one(host, key, value, out); });
}

}  // namespace pktd_tap
