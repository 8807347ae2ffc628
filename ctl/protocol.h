// The control protocol's messages, as both ends see them.
//
// One JSON object per SOCK_SEQPACKET message (the socket keeps message boundaries, so there is
// no framing of our own):
//   request  {"version":1,"op":"interfaces","args":{...}}
//   reply    {"version":1,"ok":true,"result":...}
//            {"version":1,"ok":false,"errno":6,"error":"tap7: no such interface"}
// docs/pkt.md lists the ops, their arguments and their results.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "ctl/backend.h"

namespace pktd::ctl {

inline constexpr int kProtocolVersion = 1;
// Larger requests are refused (EMSGSIZE). Replies may be larger: the client sizes its buffer.
inline constexpr size_t kMaxRequest = 64 * 1024;

// Bounds of the ops' arguments: the server refuses others (EINVAL), pkt checks them first.
inline constexpr uint32_t kMaxTimeoutMs = 60000;      // ping, udp_receive
inline constexpr uint32_t kMaxReceiveCount = 10000;   // udp_receive
inline constexpr uint32_t kMaxFramesPerRead = 10000;  // capture_read
inline constexpr uint32_t kMaxCaptureWaitMs = 10000;  // capture_read
inline constexpr uint32_t kMaxPingSize = 65507;       // ICMP data octets: 65535 - 20 - 8
inline constexpr uint32_t kMaxUdpPayload = 65507;     // 65535 - 20 - 8
inline constexpr uint32_t kMaxSnaplen = 262144;       // tcpdump's default and maximum

// Message text. Strings that are not valid UTF-8 (a driver's odd reply) are replaced, not
// thrown: a reply must always be sendable.
std::string encode(const nlohmann::json& message);

// An error message reduced to one printable line (control characters become spaces).
std::string one_line(std::string_view text);

nlohmann::json make_request(const std::string& op, nlohmann::json args);
nlohmann::json make_ok(nlohmann::json result);
nlohmann::json make_error(const Error& error);

// What the client makes of a reply message.
struct Reply {
  Error error;  // code 0: ok, and result holds the result
  nlohmann::json result;
};
// False (and *why) when text is not a version-1 reply.
bool parse_reply(std::string_view text, Reply* reply, std::string* why);

// The wire form of the backend's types (found by ADL: j.get<InterfaceInfo>()). from_json
// throws nlohmann::json::exception for a missing name or a field of the wrong type; other
// missing fields keep their defaults, so an older pktd's replies still read.
void to_json(nlohmann::json& j, const InterfaceInfo& info);
void from_json(const nlohmann::json& j, InterfaceInfo& info);
void to_json(nlohmann::json& j, const ThreadInfo& info);
void from_json(const nlohmann::json& j, ThreadInfo& info);

// IPv4 (protocol_inet.cc). Octets (UdpDatagramInfo::data, CapturedFrame::data) travel
// base64-encoded; from_json throws nlohmann::json::exception for bad base64 too.
void to_json(nlohmann::json& j, const InterfaceInfo::Inet& inet);
void from_json(const nlohmann::json& j, InterfaceInfo::Inet& inet);
void to_json(nlohmann::json& j, const RouteInfo& route);
void from_json(const nlohmann::json& j, RouteInfo& route);
void to_json(nlohmann::json& j, const ArpInfo& entry);
void from_json(const nlohmann::json& j, ArpInfo& entry);
void to_json(nlohmann::json& j, const PingRequest& request);  // the ping op's args
void to_json(nlohmann::json& j, const PingResult& result);
void from_json(const nlohmann::json& j, PingResult& result);
void to_json(nlohmann::json& j, const SocketInfo& socket);
void from_json(const nlohmann::json& j, SocketInfo& socket);
void to_json(nlohmann::json& j, const UdpDatagramInfo& datagram);
void from_json(const nlohmann::json& j, UdpDatagramInfo& datagram);
void to_json(nlohmann::json& j, const CapturedFrame& frame);
void from_json(const nlohmann::json& j, CapturedFrame& frame);
void to_json(nlohmann::json& j, const CaptureRead& read);
void from_json(const nlohmann::json& j, CaptureRead& read);

}  // namespace pktd::ctl
