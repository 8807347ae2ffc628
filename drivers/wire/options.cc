#include "options.h"

#include <cerrno>
#include <cstring>

#include "option_parse.h"
#include "rendezvous.h"

namespace devnp_wire {
namespace {

bool parse_link(const pktd_host& host, const char* value, Options& out) {
  std::string problem = check_link_name(value);
  if (!problem.empty()) {
    host.log(PKTD_LOG_ERROR, "wire: link=%s: %s", value, problem.c_str());
    return false;
  }
  out.link = value;
  return true;
}

bool parse_fault(const pktd_host& host, const char* key, const char* value, Options& out) {
  std::string error = apply_fault_option(key, value, out.faults);
  if (!error.empty()) host.log(PKTD_LOG_ERROR, "wire: %s", error.c_str());
  return error.empty();
}

bool parse_one(const pktd_host& host, const char* key, const char* value, Options& out) {
  if (std::strcmp(key, "link") == 0) return parse_link(host, value, out);
  if (std::strcmp(key, "rxbatch") == 0)
    return pktd_kit::parse_u32(host, "wire", key, value, 1, kMaxRxBatch, out.rxbatch);
  if (is_fault_option(key)) return parse_fault(host, key, value, out);
  host.log(PKTD_LOG_ERROR,
           "wire: unknown option '%s' (expected link, rxbatch, loss, dup, reorder, corrupt, "
           "delay, jitter, rate, ratequeue or seed)",
           key);
  return false;
}

}  // namespace

int parse_options(const pktd_host& host, const char* text, Options& out) {
  if (int err = pktd_kit::for_each_option(
          text, [&](const char* key, const char* value) { return parse_one(host, key, value, out); });
      err != 0)
    return err;
  if (out.link.empty()) {
    host.log(PKTD_LOG_ERROR,
             "wire: link=NAME is required (the same NAME at both ends, e.g. -d wire,link=lab1)");
    return EINVAL;
  }
  return 0;
}

}  // namespace devnp_wire
