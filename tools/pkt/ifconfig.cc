// pkt ifconfig [IF [up | down | mtu N | destroy | create]]; addresses: ifconfig_address.cc
#include <cinttypes>
#include <cstdio>

#include "ctl/inet_text.h"
#include "ctl/protocol.h"
#include "pktd/driver.h"
#include "tools/pkt/commands.h"
#include "tools/pkt/text.h"

namespace pktd::pkt {

using nlohmann::json;

namespace {

struct Bit {
  uint32_t value;
  const char* name;
};

constexpr Bit kFlagNames[] = {
    {PKTD_IFF_UP, "UP"},
    {PKTD_IFF_BROADCAST, "BROADCAST"},
    {PKTD_IFF_LOOPBACK, "LOOPBACK"},
    {PKTD_IFF_POINTOPOINT, "POINTOPOINT"},
    {PKTD_IFF_RUNNING, "RUNNING"},
    {PKTD_IFF_PROMISC, "PROMISC"},
    {PKTD_IFF_ALLMULTI, "ALLMULTI"},
    {PKTD_IFF_OACTIVE, "OACTIVE"},
    {PKTD_IFF_SIMPLEX, "SIMPLEX"},
    {PKTD_IFF_MULTICAST, "MULTICAST"},
};

constexpr Bit kCapabilityNames[] = {
    {PKTD_IFCAP_RXCSUM, "RXCSUM"},
    {PKTD_IFCAP_TXCSUM, "TXCSUM"},
    {PKTD_IFCAP_TSO4, "TSO4"},
    {PKTD_IFCAP_TSO6, "TSO6"},
};

// BSD's printb: the value in hex, then the names of the bits it knows.
template <size_t N>
std::string format_bits(uint32_t value, const Bit (&names)[N]) {
  char hex[16];
  std::snprintf(hex, sizeof hex, "%" PRIx32, value);
  std::string out = std::string(hex) + "<";
  const char* sep = "";
  for (const Bit& b : names) {
    if ((value & b.value) == 0) continue;
    out += sep;
    out += b.name;
    sep = ",";
  }
  return out + ">";
}

bool has_address(const std::string& mac) {
  return !mac.empty() && mac.find_first_not_of("0:") != std::string::npos;
}

std::string show_all(const json& result) {
  std::string out;
  for (const auto& info : result.get<std::vector<ctl::InterfaceInfo>>())
    out += format_ifconfig(info);
  return out;
}

std::string show_one(const json& result) {
  return format_ifconfig(result.get<ctl::InterfaceInfo>());
}

// BSD's "ifconfig tap1 create": the driver is the name's letters (devnp-tap.so), the unit its
// number; pktd loads a new instance of that driver with unit=N.
std::optional<Plan> plan_create(const std::string& name, std::string* error) {
  size_t digits = name.find_last_not_of("0123456789") + 1;
  if (digits == 0 || digits == name.size()) {
    *error = "ifconfig: create needs a driver name and a unit, like tap1";
    return std::nullopt;
  }
  return one_call("mount",
                  {{"path", name.substr(0, digits)}, {"options", "unit=" + name.substr(digits)}},
                  [](const json& result) {
                    return format_mounted(result.at("interfaces").get<std::vector<std::string>>());
                  });
}

std::optional<Plan> plan_action(const Args& args, std::string* error) {
  const std::string& name = args[0];
  const std::string& action = args[1];
  if (is_address_word(action)) return plan_ifconfig_address(args, error);
  if ((action == "up" || action == "down") && args.size() == 2)
    return one_call("set_up", {{"name", name}, {"up", action == "up"}}, nothing);
  if (action == "destroy" && args.size() == 2)
    return one_call("destroy", {{"name", name}}, nothing);
  if (action == "create" && args.size() == 2) return plan_create(name, error);
  if (action == "mtu") {
    auto mtu = args.size() == 3 ? parse_u32(args[2]) : std::nullopt;
    if (mtu) return one_call("set_mtu", {{"name", name}, {"mtu", *mtu}}, nothing);
    *error = "ifconfig: mtu takes one number";
    return std::nullopt;
  }
  *error = "ifconfig: expected up, down, mtu N, destroy, create or an address after " + name;
  return std::nullopt;
}

// media and status: Ethernet-like links only. As on BSD, loopback and point-to-point links have
// no Ethernet address or medium to show (pktd gives lo0 a MAC anyway; nicinfo shows it).
std::string format_link(const ctl::InterfaceInfo& info) {
  if ((info.flags & (PKTD_IFF_LOOPBACK | PKTD_IFF_POINTOPOINT)) != 0 || info.driver == "loopback")
    return {};
  std::string out;
  if (has_address(info.mac)) out += "\taddress: " + info.mac + "\n";
  out += "\tmedia: Ethernet autoselect\n";
  if (info.link == "up") out += "\tstatus: active\n";
  if (info.link == "down") out += "\tstatus: no carrier\n";
  return out;
}

}  // namespace

std::string format_flags(uint32_t flags) { return format_bits(flags, kFlagNames); }

std::string format_capabilities(uint32_t caps) { return format_bits(caps, kCapabilityNames); }

std::string format_inet(const ctl::InterfaceInfo::Inet& inet) {
  char mask[16];
  std::snprintf(mask, sizeof mask, "0x%08" PRIx32, ctl::netmask_of(inet.prefix_len));
  std::string out = "\tinet " + inet.address + " netmask " + mask;
  if (!inet.broadcast.empty()) out += " broadcast " + inet.broadcast;
  return out + "\n";
}

std::string format_ifconfig(const ctl::InterfaceInfo& info) {
  std::string out =
      info.name + ": flags=" + format_flags(info.flags) + " mtu " + std::to_string(info.mtu) + "\n";
  if (info.capabilities != 0) out += "\toptions=" + format_capabilities(info.capabilities) + "\n";
  out += format_link(info);
  for (const auto& inet : info.inet) out += format_inet(inet);
  return out;
}

std::optional<Plan> plan_ifconfig(const Args& args, std::string* error) {
  // "-a" as on BSD, where a bare ifconfig shows nothing.
  if (args.empty() || (args.size() == 1 && args[0] == "-a"))
    return one_call("interfaces", json::object(), show_all);
  if (args[0].starts_with("-")) {
    *error = "ifconfig: unknown option " + args[0];
    return std::nullopt;
  }
  if (args.size() == 1) return one_call("interface", {{"name", args[0]}}, show_one);
  return plan_action(args, error);
}

}  // namespace pktd::pkt
