// The driver-specific options of devnp-wire.so (pktd has taken out name=, unit=, mac= and mtu=).
#pragma once

#include <cstdint>
#include <string>

#include "fault_settings.h"
#include "pktd/driver.h"

namespace devnp_wire {

struct Options {
  std::string link;       // required: the link's name, the same at both ends
  uint32_t rxbatch = 64;  // frames taken per receive interrupt before other sources get a turn
  FaultConfig faults;     // what this end does to the frames it sends
};

inline constexpr uint32_t kMaxRxBatch = 4096;

// Fills out from "link=NAME,rxbatch=N,loss=5,...". On a bad, unknown or missing option logs an
// error naming it and returns EINVAL; 0 otherwise.
int parse_options(const pktd_host& host, const char* text, Options& out);

}  // namespace devnp_wire
