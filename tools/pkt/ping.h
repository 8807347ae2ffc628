// pkt ping [-c COUNT] [-s SIZE] [-i INTERVAL] [-W TIMEOUT] [-t TTL] HOST: one ping request per
// echo, pktd waiting up to TIMEOUT for the reply; then pkt sleeps the rest of INTERVAL. Output
// and exit status as ping(8): 0 with a reply, 1 with none, 2 on bad usage.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tools/pkt/clock.h"
#include "tools/pkt/commands.h"
#include "tools/pkt/session.h"

namespace pktd::pkt {

struct PingOptions {
  std::string host;                             // numeric IPv4
  std::optional<uint32_t> count;                // -c; none: until interrupted
  uint32_t size = 56;                           // -s: ICMP data octets
  std::chrono::microseconds interval{1000000};  // -i, from one send to the next
  uint32_t timeout_ms = 1000;                   // -W: how long pktd waits for each reply
  uint8_t ttl = 64;                             // -t
  uint16_t id = 0;                              // the ICMP identifier (launch_ping: the pid)
};

// The arguments; root lowers the shortest interval allowed from 0.2 s to 0.01 s (as Linux).
std::optional<PingOptions> parse_ping(const Args& args, bool root, std::string* error);

// Sends the echoes, prints as ping(8) (with --json, one object at the end: the counts and every
// result as pktd sent it), and returns the exit status.
int run_ping(const PingOptions& options, Session& session, const Clock& clock);

struct PingStats {
  uint32_t transmitted = 0, received = 0;
  std::vector<double> rtts_ms;
};
// "\n--- H ping statistics ---\nN packets transmitted, ..." with the round-trip line when any
// reply came.
std::string format_ping_summary(const std::string& host, const PingStats& stats);

}  // namespace pktd::pkt
