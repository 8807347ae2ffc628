// pkt's subcommands. Most are a Plan: a fixed series of requests and the text of the last
// result, pure functions that ctl_test checks without a daemon. ping and capture are Programs:
// loops that talk to pktd until done (ping.h, capture.h).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ctl/backend.h"

namespace pktd::pkt {

using Args = std::vector<std::string>;

// One request to pktd.
struct Call {
  std::string op;
  nlohmann::json args = nlohmann::json::object();
};

// A failure that is pkt's own finding, not pktd's refusal (arp ADDR with no entry): exit 1
// with "pkt " + what(), e.g. "pkt arp: 198.18.0.9 -- no entry".
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Formatter = std::function<std::string(const nlohmann::json& result)>;

// Requests made in order (the first refusal stops the rest), then the last result printed:
// as text, or with --json as pktd sent it (an array of every result when there are several).
struct Plan {
  std::vector<Call> calls;
  // The last result as text. May throw nlohmann::json::exception (a malformed result) or Failure.
  Formatter text;
  // Optional: what of the last result to show, as text and as JSON (arp ADDR keeps one entry).
  // May throw Failure.
  std::function<nlohmann::json(const nlohmann::json& result)> select;
};
Plan one_call(std::string op, nlohmann::json args, Formatter text);
// For changes: nothing to print.
std::string nothing(const nlohmann::json& result);

// A subcommand's arguments (after the subcommand, without --json) -> its plan; nullopt with
// *error on bad usage.
using Planner = std::optional<Plan> (*)(const Args& args, std::string* error);

std::optional<Plan> plan_ifconfig(const Args& args, std::string* error);  // ifconfig.cc
std::optional<Plan> plan_nicinfo(const Args& args, std::string* error);   // nicinfo.cc
std::optional<Plan> plan_mount(const Args& args, std::string* error);     // mount.cc
std::optional<Plan> plan_umount(const Args& args, std::string* error);    // mount.cc
std::optional<Plan> plan_threads(const Args& args, std::string* error);   // threads.cc
std::optional<Plan> plan_route(const Args& args, std::string* error);     // route.cc
std::optional<Plan> plan_netstat(const Args& args, std::string* error);   // netstat.cc
std::optional<Plan> plan_arp(const Args& args, std::string* error);       // arp.cc
std::optional<Plan> plan_udp(const Args& args, std::string* error);       // udp.cc

// ifconfig IF [inet] ADDRESS ... (ifconfig_address.cc); args[0] is IF, args[1] "inet" or an
// address.
std::optional<Plan> plan_ifconfig_address(const Args& args, std::string* error);
bool is_address_word(const std::string& word);

// --- formatting ---
// "8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST>": hex value, then the names of known bits.
std::string format_flags(uint32_t flags);
// "3<RXCSUM,TXCSUM>" for PKTD_IFCAP_* bits.
std::string format_capabilities(uint32_t caps);
// BSD ifconfig's block for one interface, ending in a newline.
std::string format_ifconfig(const ctl::InterfaceInfo& info);
// "\tinet 198.18.0.1 netmask 0xffffff00 broadcast 198.18.0.255\n"
std::string format_inet(const ctl::InterfaceInfo::Inet& inet);
// QNX nicinfo's view: driver, options, link, every counter, the send queue.
std::string format_nicinfo(const ctl::InterfaceInfo& info);
// One line per thread: TID, KIND, NAME and a '*' in STACK for the stack context's holder.
std::string format_threads(const std::vector<ctl::ThreadInfo>& threads);
// The interfaces a mount created, one per line.
std::string format_mounted(const std::vector<std::string>& interfaces);
// netstat -rn's table.
std::string format_routes(const std::vector<ctl::RouteInfo>& routes);
// route get's block: route to, destination, mask, gateway, interface, flags.
std::string format_route_get(const std::string& address, const ctl::RouteInfo& route);
// "U G S" letters -> "<UP,GATEWAY,STATIC>".
std::string format_route_flags(const std::string& letters);
// BSD arp -a: "? (198.18.0.2) at 02:70:00:00:00:02 on tap0 expires in 1190 seconds [ethernet]".
std::string format_arp(const std::vector<ctl::ArpInfo>& entries);
// netstat -s: "ip:\n\t12 received\n..."; netstat -m: "<value> <name>" lines; netstat -an.
std::string format_protocol_stats(const std::map<std::string, std::map<std::string, uint64_t>>& s);
std::string format_buffer_stats(const std::map<std::string, uint64_t>& stats);
std::string format_sockets(const std::vector<ctl::SocketInfo>& sockets);
// udp recv: "from 198.18.0.2:40000: TEXT" with non-printable octets as \xNN.
std::string format_datagrams(const std::vector<ctl::UdpDatagramInfo>& datagrams);

// Strips io-pkt's "/dev/io-net/" prefix: `pkt umount /dev/io-net/tap0` means tap0.
std::string interface_of(const std::string& word);

}  // namespace pktd::pkt
