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
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "ctl/backend.h"

namespace pktd::ctl {

inline constexpr int kProtocolVersion = 1;
// Larger requests are refused (EMSGSIZE). Replies may be larger: the client sizes its buffer.
inline constexpr size_t kMaxRequest = 64 * 1024;

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

}  // namespace pktd::ctl
