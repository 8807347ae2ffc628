// The driver-specific options of devnp-nointr.so (pktd has taken out name=, unit=, mac=, mtu=).
#pragma once

#include <cstdint>
#include <string>

#include "pktd/driver.h"

namespace pktd_nointr {

struct Options {
  std::string path;         // the socket this end binds: frames for us arrive here (required)
  std::string peer;         // the socket of the other end: our frames go there (required)
  uint32_t rxqueue = 256;   // frames the receive thread may queue ahead of the process callback
};

inline constexpr uint32_t kMaxRxQueue = 4096;

// Fills out from "path=SOCK,peer=SOCK[,rxqueue=N]". Both paths must be absolute (pktd's working
// directory is nobody's business) and fit a sockaddr_un. On a bad, unknown, repeated or missing
// option logs an error naming it and returns EINVAL; 0 otherwise.
int parse_options(const pktd_host& host, const char* text, Options& out);

}  // namespace pktd_nointr
