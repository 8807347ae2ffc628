#include "options.h"

#include "option_parse.h"

#include <cctype>
#include <cerrno>
#include <cstring>

namespace pktd_sam {
namespace {

bool parse_number(const pktd_host& host, const char* key, const char* value, uint32_t lo,
                  uint32_t hi, uint32_t& out) {
  return pktd_kit::parse_u32(host, "sam", key, value, lo, hi, out);
}

bool parse_flag(const pktd_host& host, const char* key, const char* value, bool& out) {
  return pktd_kit::parse_flag(host, "sam", key, value, out);
}

// A name the log and the status can show as it is.
bool parse_cable(const pktd_host& host, const char* value, Options& out) {
  size_t len = std::strlen(value);
  bool ok = len > 0 && len <= kMaxCableName;
  for (size_t i = 0; ok && i < len; ++i)
    ok = std::isalnum(static_cast<unsigned char>(value[i])) || std::strchr("-_.", value[i]);
  if (!ok) {
    host.log(PKTD_LOG_ERROR, "sam: cable=%s: expected 1 to %zu letters, digits, '-', '_' or '.'",
             value, kMaxCableName);
    return false;
  }
  out.cable = value;
  return true;
}

bool parse_one(const pktd_host& host, const char* key, const char* value, Options& out) {
  if (std::strcmp(key, "pair") == 0) return parse_flag(host, key, value, out.pair);
  // A ring needs at least two descriptors to tell full from empty by ownership alone.
  if (std::strcmp(key, "txd") == 0) return parse_number(host, key, value, 2, kMaxDescriptors, out.txd);
  if (std::strcmp(key, "rxd") == 0) return parse_number(host, key, value, 2, kMaxDescriptors, out.rxd);
  if (std::strcmp(key, "rxbatch") == 0)
    return parse_number(host, key, value, 1, kMaxDescriptors, out.rxbatch);
  if (std::strcmp(key, "stale") == 0)
    return parse_number(host, key, value, 0, 3600000, out.stale_ms);
  if (std::strcmp(key, "fwload_ms") == 0)
    return parse_number(host, key, value, 0, 60000, out.fwload_ms);
  if (std::strcmp(key, "noflow") == 0) {
    bool noflow = false;
    if (!parse_flag(host, key, value, noflow)) return false;
    out.flow_control = false;
    return true;
  }
  if (std::strcmp(key, "cable") == 0) return parse_cable(host, value, out);
  if (std::strcmp(key, "firmware") == 0) {
    if (*value == '\0') {
      host.log(PKTD_LOG_ERROR, "sam: firmware= needs a file name");
      return false;
    }
    out.firmware = value;
    return true;
  }
  if (std::strcmp(key, "mistake") == 0) {
    if (parse_mistake(value, out.mistake)) return true;
    host.log(PKTD_LOG_ERROR, "sam: mistake=%s: expected none, no-restart or deaf", value);
    return false;
  }
  host.log(PKTD_LOG_ERROR, "sam: unknown option '%s'", key);
  return false;
}

}  // namespace

bool parse_mistake(const char* text, Mistake& out) {
  for (Mistake m : {Mistake::none, Mistake::no_restart, Mistake::deaf})
    if (std::strcmp(text, mistake_name(m)) == 0) {
      out = m;
      return true;
    }
  return false;
}

const char* mistake_name(Mistake m) {
  switch (m) {
    case Mistake::none: return "none";
    case Mistake::no_restart: return "no-restart";
    case Mistake::deaf: return "deaf";
  }
  return "?";
}

int parse_options(const pktd_host& host, const char* text, Options& out) {
  if (int err = pktd_kit::for_each_option(
          text, [&](const char* key, const char* value) { return parse_one(host, key, value, out); });
      err != 0)
    return err;
  if (out.pair && !out.cable.empty()) {
    host.log(PKTD_LOG_ERROR, "sam: pair and cable= exclude each other (a pair is both ends)");
    return EINVAL;
  }
  return 0;
}

}  // namespace pktd_sam
