// pkt arp -a | arp ADDR | arp -d ADDR | arp -s ADDR MAC (BSD's arp; -n is accepted and is always
// the case: there is no resolver).
#include "ctl/inet_text.h"
#include "ctl/protocol.h"
#include "tools/pkt/commands.h"

namespace pktd::pkt {

using nlohmann::json;

namespace {

std::optional<Plan> fail(std::string* error, std::string text) {
  *error = "arp: " + std::move(text);
  return std::nullopt;
}

std::string show(const json& result) { return format_arp(result.get<std::vector<ctl::ArpInfo>>()); }

// Only the entry for address; none is a failure, as for BSD's arp.
json only(const json& entries, const std::string& address) {
  json out = json::array();
  for (const auto& e : entries)
    if (e.value("address", "") == address) out.push_back(e);
  if (out.empty()) throw Failure("arp: " + address + " -- no entry");
  return out;
}

std::string entry_line(const ctl::ArpInfo& e) {
  std::string out = "? (" + e.address + ") at ";
  if (e.mac.empty() || e.state == "incomplete")
    return out + "(incomplete) on " + e.interface + " [ethernet]\n";
  out += e.mac + " on " + e.interface;
  if (e.state == "permanent" || e.expires_in_s < 0)
    out += " permanent";
  else
    out += " expires in " + std::to_string(e.expires_in_s) + " seconds";
  return out + " [ethernet]\n";
}

// The words without -n, and -an/-na as -a.
Args without_numeric(const Args& args) {
  Args out;
  for (const std::string& w : args) {
    if (w == "-n") continue;
    out.push_back(w == "-an" || w == "-na" ? "-a" : w);
  }
  return out;
}

}  // namespace

std::string format_arp(const std::vector<ctl::ArpInfo>& entries) {
  std::string out;
  for (const auto& e : entries) out += entry_line(e);
  return out;
}

std::optional<Plan> plan_arp(const Args& all_args, std::string* error) {
  Args args = without_numeric(all_args);
  if (args.size() == 1 && args[0] == "-a") return one_call("arp", json::object(), show);
  bool address_ok = args.size() >= 2 && ctl::parse_ipv4(args[1]).has_value();
  if (args.size() == 2 && args[0] == "-d" && address_ok)
    return one_call("arp_delete", {{"address", args[1]}}, nothing);
  if (args.size() == 3 && args[0] == "-s" && address_ok) {
    auto mac = ctl::normalize_mac(args[2]);
    if (!mac) return fail(error, args[2] + ": not a MAC address (xx:xx:xx:xx:xx:xx)");
    return one_call("arp_set", {{"address", args[1]}, {"mac", *mac}}, nothing);
  }
  if (args.size() == 1 && ctl::parse_ipv4(args[0])) {
    Plan plan = one_call("arp", json::object(), show);
    std::string address = args[0];
    plan.select = [address](const json& entries) { return only(entries, address); };
    return plan;
  }
  return fail(error, "expected -a, ADDR, -d ADDR or -s ADDR MAC (ADDR: A.B.C.D)");
}

}  // namespace pktd::pkt
