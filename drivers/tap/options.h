// The driver-specific options of devnp-tap.so (pktd has taken out name=, unit=, mac= and mtu=).
#pragma once

#include <cstdint>
#include <string>

#include "pktd/driver.h"

namespace pktd_tap {

struct Options {
  std::string dev;       // Linux TAP device; empty: the pktd interface's own name
  bool persist = false;  // keep a device this driver created after it lets go of it
  uint32_t rxbatch = 64; // frames read per receive interrupt before giving other sources a turn
};

inline constexpr uint32_t kMaxRxBatch = 4096;

// Fills out from "dev=NAME,persist,rxbatch=N". On a bad or unknown option logs an error naming
// it and returns EINVAL; 0 otherwise.
int parse_options(const pktd_host& host, const char* text, Options& out);

}  // namespace pktd_tap
