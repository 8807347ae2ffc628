// The driver-specific options of devnp-sam.so (pktd has taken out name=, unit=, mac= and mtu=).
#pragma once

#include <cstdint>
#include <string>

#include "pktd/driver.h"

namespace pktd_sam {

// Driver mistakes sam can be told to make, so that pktd's checks for them can be seen working.
enum class Mistake {
  none,
  no_restart,  // start gives up on a down link with OACTIVE clear, and link-up does not restart
  deaf,        // the engine thread ignores quiesce requests (it still answers "die")
};

struct Options {
  bool pair = false;          // two interfaces joined by a cable; else one that loops back
  std::string cable;          // one end of the named cable (two attaches join it)
  bool flow_control = true;   // a full RX ring pauses the sender; noflow: the frame is missed
  uint32_t txd = 64;          // TX descriptors per port
  uint32_t rxd = 128;         // RX descriptors per port
  uint32_t rxbatch = 32;      // frames handed up per interrupt before others get a turn
  uint32_t stale_ms = 5000;   // purge the send queue after this long without progress; 0: never
  uint32_t fwload_ms = 10;    // how long the simulated firmware load takes (a blockop)
  std::string firmware;       // a file read at attach as the "firmware" (through blockop)
  Mistake mistake = Mistake::none;
};

inline constexpr uint32_t kMaxDescriptors = 4096;
inline constexpr size_t kMaxCableName = 64;

// Fills out from "pair|cable=NAME,noflow,txd=N,rxd=N,rxbatch=N,stale=MS,fwload_ms=MS,firmware=PATH,mistake=M".
// On a bad or unknown option logs an error naming it and returns EINVAL; 0 otherwise.
int parse_options(const pktd_host& host, const char* text, Options& out);
// "none", "no-restart", "deaf"; false for anything else.
bool parse_mistake(const char* text, Mistake& out);
const char* mistake_name(Mistake m);

}  // namespace pktd_sam
