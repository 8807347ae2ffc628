// pkt netstat -rn | -s | -m | -an (BSD's letters; numbers only, there is no resolver).
#include "ctl/protocol.h"
#include "tools/pkt/commands.h"
#include "tools/pkt/text.h"

namespace pktd::pkt {

using nlohmann::json;

namespace {

constexpr std::string_view kModes = "rsma";   // routes, statistics, buffers (mbufs), sockets
constexpr std::string_view kFlags = "rsman";  // -n (numeric) is always the case

std::string socket_row(const std::string& proto, const std::string& recv_q,
                       const std::string& send_q, const std::string& local,
                       const std::string& remote, const std::string& state) {
  return trim_right(pad(proto, 5) + " " + pad_left(recv_q, 6) + " " + pad_left(send_q, 6) + " " +
                    pad(local, 22) + " " + pad(remote, 22) + " " + state) +
         "\n";
}

// The one mode letter the flags ask for ('a' when none); 0 after *error.
char mode_of(const Args& args, std::string* error) {
  char mode = 0;
  for (const std::string& word : args) {
    if (!word.starts_with("-") || word.size() < 2) {
      *error = "netstat: unexpected " + word + " (-rn, -s, -m or -an)";
      return 0;
    }
    for (char c : word.substr(1)) {
      if (kFlags.find(c) == std::string_view::npos) {
        *error = std::string("netstat: unknown flag -") + c + " (-rn, -s, -m or -an)";
        return 0;
      }
      if (kModes.find(c) == std::string_view::npos || c == mode) continue;
      if (mode != 0) {
        *error = "netstat: one of -r, -s, -m, -a at a time";
        return 0;
      }
      mode = c;
    }
  }
  return mode != 0 ? mode : 'a';
}

}  // namespace

std::string format_protocol_stats(const std::map<std::string, std::map<std::string, uint64_t>>& s) {
  std::string out;
  for (const auto& [group, counters] : s) {
    out += group + ":\n";
    for (const auto& [name, value] : counters)
      out += "\t" + std::to_string(value) + " " + name + "\n";
  }
  return out;
}

std::string format_buffer_stats(const std::map<std::string, uint64_t>& stats) {
  std::string out;
  for (const auto& [name, value] : stats) out += std::to_string(value) + " " + name + "\n";
  return out;
}

std::string format_sockets(const std::vector<ctl::SocketInfo>& sockets) {
  std::string out = "Active Internet connections (including servers)\n";
  out += socket_row("Proto", "Recv-Q", "Send-Q", "Local Address", "Foreign Address", "(state)");
  for (const auto& s : sockets)
    out += socket_row(s.protocol, std::to_string(s.recv_queue), std::to_string(s.send_queue),
                      s.local, s.remote, s.state);
  return out;
}

std::optional<Plan> plan_netstat(const Args& args, std::string* error) {
  switch (mode_of(args, error)) {
    case 'r':
      return one_call("routes", json::object(), [](const json& result) {
        return format_routes(result.get<std::vector<ctl::RouteInfo>>());
      });
    case 's':
      return one_call("protocol_stats", json::object(), [](const json& result) {
        return format_protocol_stats(
            result.get<std::map<std::string, std::map<std::string, uint64_t>>>());
      });
    case 'm':
      return one_call("buffer_stats", json::object(), [](const json& result) {
        return format_buffer_stats(result.get<std::map<std::string, uint64_t>>());
      });
    case 'a':
      return one_call("sockets", json::object(), [](const json& result) {
        return format_sockets(result.get<std::vector<ctl::SocketInfo>>());
      });
    default:
      return std::nullopt;
  }
}

}  // namespace pktd::pkt
