// The driver-specific options of devnp-afpacket.so (pktd has taken out name=, unit=, mac= and
// mtu=). docs/afpacket.md lists them with their reasons.
#pragma once

#include <cstdint>
#include <string>

#include "pktd/driver.h"

namespace pktd_afpacket {

struct Options {
  std::string dev;                   // the Linux interface to attach to (required)
  uint32_t block_size = 128 * 1024;  // bytes per ring block: holds a 64 KiB GSO frame whole
  uint32_t block_count = 16;         // blocks in the ring (2 MiB with the default size)
  uint32_t frame_size = 2048;        // TPACKET_V3 bookkeeping only (tp_frame_nr), see options.cc
  uint32_t retire_ms = 1;            // a block with frames goes to us at the latest after this
  uint32_t rxbatch = 64;             // frames handed up per receive interrupt
};

// Bounds, each with its reason in options.cc.
inline constexpr uint32_t kMaxBlockSize = 4u << 20;
inline constexpr uint32_t kMinBlockCount = 2;
inline constexpr uint32_t kMaxBlockCount = 4096;
inline constexpr uint64_t kMaxRingBytes = 256u << 20;
inline constexpr uint32_t kMaxRetireMs = 1000;
inline constexpr uint32_t kMaxRxBatch = 4096;

// The smallest tp_frame_size the kernel takes: its header and the sockaddr_ll after it,
// rounded up to TPACKET_ALIGNMENT (16).
uint32_t min_frame_size();

// Fills out from "dev=NAME,blocksize=N,blocks=N,framesize=N,retire_ms=N,rxbatch=N". On a bad,
// unknown or missing option logs an error naming it and returns EINVAL; 0 otherwise.
int parse_options(const pktd_host& host, const char* text, Options& out);

}  // namespace pktd_afpacket
