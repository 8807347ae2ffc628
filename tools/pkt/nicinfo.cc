// pkt nicinfo [IF [REQUEST...]]
#include <algorithm>
#include <set>

#include "ctl/protocol.h"
#include "tools/pkt/commands.h"

namespace pktd::pkt {

using nlohmann::json;

namespace {

struct Label {
  const char* counter;
  const char* text;
};

// The counters pktd keeps (net/ifnet.h), in QNX nicinfo's order: receive, then transmit.
constexpr Label kLabels[] = {
    {"ipackets", "Packets received"},
    {"ibytes", "Bytes received"},
    {"ierrors", "Receive errors"},
    {"iqdrops", "Receive drops (no resources)"},
    {"opackets", "Packets transmitted"},
    {"obytes", "Bytes transmitted"},
    {"oerrors", "Transmit errors"},
    {"collisions", "Collisions"},
    {"link_changes", "Link changes"},
    {"start_calls", "Driver start calls"},
    {"start_lock_leaks", "Start lock leaks"},
    {"tx_stalls", "Transmit stalls (no restart)"},
};
constexpr std::string_view kDropPrefix = "drop_";
constexpr int kLabelWidth = 32;

std::string line(const std::string& label, uint64_t value, int indent) {
  std::string text = std::string(static_cast<size_t>(indent), ' ') + label;
  size_t width = static_cast<size_t>(kLabelWidth);
  if (text.size() < width) text.resize(width, ' ');
  return text + " " + std::to_string(value) + "\n";
}

// Known counters by name, then drops by reason, then any counter this pkt does not know
// (a newer pktd's), so that nothing is hidden.
std::string counters(const std::map<std::string, uint64_t>& all) {
  std::string out;
  std::set<std::string> shown;
  for (const Label& l : kLabels) {
    auto it = all.find(l.counter);
    if (it == all.end()) continue;
    out += line(l.text, it->second, 2);
    shown.insert(it->first);
  }
  std::string drops;
  for (const auto& [name, value] : all)
    if (name.starts_with(kDropPrefix)) {
      drops += line(name.substr(kDropPrefix.size()), value, 4);
      shown.insert(name);
    }
  if (!drops.empty()) out += "  Drops by reason:\n" + drops;
  for (const auto& [name, value] : all)
    if (shown.count(name) == 0) out += line(name, value, 2);
  return out;
}

std::string show_all(const json& result) {
  std::string out;
  for (const auto& info : result.get<std::vector<ctl::InterfaceInfo>>())
    out += (out.empty() ? "" : "\n") + format_nicinfo(info);
  return out;
}

std::string show_one(const json& result) {
  return format_nicinfo(result.get<ctl::InterfaceInfo>());
}

// The driver's reply as it wrote it, with the line end a terminal wants.
std::string show_reply(const json& result) {
  std::string reply = result.value("reply", "");
  if (!reply.empty() && reply.back() != '\n') reply += '\n';
  return reply;
}

// The words after the interface name, as one request for the driver (io-pkt: a driver's
// devctl through nicinfo/ifconfig): "link down", "txhold 32", "loss=5".
std::string join_request(const Args& args) {
  std::string text;
  for (size_t i = 1; i < args.size(); ++i) text += (i > 1 ? " " : "") + args[i];
  return text;
}

}  // namespace

std::string format_nicinfo(const ctl::InterfaceInfo& info) {
  std::string out =
      info.name + ": " + (info.driver.empty() ? "unknown" : info.driver) + " driver\n";
  out += "  Shared object: " + (info.driver_path.empty() ? "none (built in)" : info.driver_path) +
         "\n";
  out += "  Options: " + (info.driver_options.empty() ? "none" : info.driver_options) + "\n";
  out += "  MAC address: " + (info.mac.empty() ? "none" : info.mac) + "\n";
  out += "  MTU: " + std::to_string(info.mtu) + "\n";
  out += "  Flags: " + format_flags(info.flags) + "\n";
  if (info.capabilities != 0)
    out += "  Capabilities: " + format_capabilities(info.capabilities) + "\n";
  out += "  Link is " + (info.link.empty() ? std::string("unknown") : info.link) + "\n";
  out += "  Send queue: " + std::to_string(info.send_queue_length) + " of " +
         std::to_string(info.send_queue_max) + " packets\n";
  out += "\n" + counters(info.counters);
  return out;
}

std::optional<Plan> plan_nicinfo(const Args& args, std::string* error) {
  if (args.empty()) return one_call("interfaces", json::object(), show_all);
  if (args[0].starts_with("-")) {
    *error = "nicinfo: unknown option " + args[0];
    return std::nullopt;
  }
  if (args.size() == 1) return one_call("interface", {{"name", args[0]}}, show_one);
  return one_call("driver_request", {{"name", args[0]}, {"request", join_request(args)}},
                  show_reply);
  return std::nullopt;
}

}  // namespace pktd::pkt
