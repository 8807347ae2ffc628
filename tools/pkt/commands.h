// pkt's subcommands: each turns its arguments into one request (a Plan) and formats the
// result. Pure functions, so ctl_test checks them without a daemon.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ctl/backend.h"

namespace pktd::pkt {

using Args = std::vector<std::string>;

// One request to pktd and what to print of its result.
struct Plan {
  std::string op;
  nlohmann::json args = nlohmann::json::object();
  // The result as text; may throw nlohmann::json::exception on a malformed result.
  std::function<std::string(const nlohmann::json& result)> text;
};

// A subcommand's arguments (after the subcommand, without --json) -> its plan; nullopt with
// *error on bad usage.
using Planner = std::optional<Plan> (*)(const Args& args, std::string* error);

std::optional<Plan> plan_ifconfig(const Args& args, std::string* error);  // ifconfig.cc
std::optional<Plan> plan_nicinfo(const Args& args, std::string* error);   // nicinfo.cc
std::optional<Plan> plan_mount(const Args& args, std::string* error);     // mount.cc
std::optional<Plan> plan_umount(const Args& args, std::string* error);    // mount.cc
std::optional<Plan> plan_threads(const Args& args, std::string* error);   // threads.cc

// --- formatting ---
// "8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST>": hex value, then the names of known bits.
std::string format_flags(uint32_t flags);
// "3<RXCSUM,TXCSUM>" for PKTD_IFCAP_* bits.
std::string format_capabilities(uint32_t caps);
// BSD ifconfig's block for one interface, ending in a newline.
std::string format_ifconfig(const ctl::InterfaceInfo& info);
// QNX nicinfo's view: driver, options, link, every counter, the send queue.
std::string format_nicinfo(const ctl::InterfaceInfo& info);
// One line per thread: TID, KIND, NAME and a '*' in STACK for the stack context's holder.
std::string format_threads(const std::vector<ctl::ThreadInfo>& threads);
// The interfaces a mount created, one per line.
std::string format_mounted(const std::vector<std::string>& interfaces);

// Strips io-pkt's "/dev/io-net/" prefix: `pkt umount /dev/io-net/tap0` means tap0.
std::string interface_of(const std::string& word);

}  // namespace pktd::pkt
