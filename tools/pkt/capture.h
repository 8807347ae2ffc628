// pkt capture IF [-w FILE] [-c COUNT] [-s SNAPLEN] [-T SECONDS]: a capture session in pktd,
// read until COUNT frames, SECONDS, a stop signal or the interface's end; frames printed one
// per line (decoded with wire/) or written to a pcap file.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "ctl/backend.h"
#include "tools/pkt/clock.h"
#include "tools/pkt/commands.h"
#include "tools/pkt/session.h"

namespace pktd::pkt {

inline constexpr uint32_t kLinkTypeEthernet = 1;
inline constexpr uint32_t kLinkTypeRaw = 101;  // raw IP, no link header (lo0)

struct CaptureOptions {
  std::string interface;
  std::string file;               // -w: "" for text lines, "-" for stdout
  std::optional<uint64_t> count;  // -c
  uint32_t snaplen = 262144;      // -s
  std::optional<double> seconds;  // -T
};

std::optional<CaptureOptions> parse_capture(const Args& args, std::string* error);

// The exit status: 0 once the session ran (whatever it caught), 1 when it could not.
int run_capture(const CaptureOptions& options, Session& session, const Clock& clock);

// What a frame is, one line: "198.18.0.2 > 198.18.0.1 ICMP echo request id 5 seq 1",
// "malformed (truncated)" (frame_summary.cc).
std::string summarize_frame(std::span<const std::byte> frame, uint32_t link_type);
// "HH:MM:SS.uuuuuu in|out LEN SUMMARY", the time local.
std::string format_frame(const ctl::CapturedFrame& frame, uint32_t link_type);

}  // namespace pktd::pkt
