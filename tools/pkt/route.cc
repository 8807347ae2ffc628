// pkt route add|delete|get|show, and the routing table as netstat -rn shows it.
#include "ctl/inet_text.h"
#include "ctl/protocol.h"
#include "tools/pkt/commands.h"
#include "tools/pkt/text.h"

namespace pktd::pkt {

using nlohmann::json;

namespace {

struct FlagName {
  char letter;
  const char* name;
};

// RouteInfo::flags letters (netstat -rn) and route get's names for them.
constexpr FlagName kFlagNames[] = {
    {'U', "UP"},    {'G', "GATEWAY"}, {'H', "HOST"},     {'S', "STATIC"}, {'C', "CONNECTED"},
    {'L', "LOCAL"}, {'D', "DYNAMIC"}, {'M', "MODIFIED"}, {'R', "REJECT"}, {'B', "BLACKHOLE"},
};

std::string route_row(const std::string& destination, const std::string& gateway,
                      const std::string& flags, const std::string& use, const std::string& mtu,
                      const std::string& netif) {
  return trim_right(pad(destination, 18) + " " + pad(gateway, 18) + " " + pad(flags, 6) + " " +
                    pad_left(use, 6) + " " + pad_left(mtu, 6) + " " + netif) +
         "\n";
}

std::optional<Plan> fail(std::string* error, std::string text) {
  *error = "route: " + std::move(text);
  return std::nullopt;
}

// [-net|-host] DEST at args[*i]: the destination as pktd takes it, or "" after *error.
std::string take_destination(const Args& args, size_t* i, std::string* error) {
  std::string kind;
  if (*i < args.size() && (args[*i] == "-net" || args[*i] == "-host")) kind = args[(*i)++];
  if (*i >= args.size()) {
    *error = "route: which destination? (default, A.B.C.D or A.B.C.D/LEN)";
    return {};
  }
  const std::string& word = args[(*i)++];
  bool ok = kind == "-net"    ? ctl::parse_prefix(word).has_value()
            : kind == "-host" ? ctl::parse_ipv4(word).has_value()
                              : ctl::is_route_destination(word);
  if (!ok) {
    *error = "route: " + word + ": expected " +
             (kind == "-net"    ? "A.B.C.D/LEN after -net"
              : kind == "-host" ? "A.B.C.D after -host"
                                : "default, A.B.C.D or A.B.C.D/LEN");
    return {};
  }
  return word;
}

std::string show_routes(const json& result) {
  return format_routes(result.get<std::vector<ctl::RouteInfo>>());
}

// route add DEST GATEWAY | route add DEST -interface IF
std::optional<Plan> plan_add(const Args& args, std::string* error) {
  size_t i = 1;
  std::string destination = take_destination(args, &i, error);
  if (destination.empty()) return std::nullopt;
  json call{{"destination", destination}, {"gateway", ""}, {"interface", ""}};
  if (i + 2 == args.size() && args[i] == "-interface" && !args[i + 1].starts_with("-"))
    call["interface"] = args[i + 1];
  else if (i + 1 == args.size() && ctl::parse_ipv4(args[i]))
    call["gateway"] = args[i];
  else
    return fail(error, "add " + destination + ": expected a gateway (A.B.C.D) or -interface IF");
  return one_call("add_route", std::move(call), nothing);
}

std::optional<Plan> plan_delete(const Args& args, std::string* error) {
  size_t i = 1;
  std::string destination = take_destination(args, &i, error);
  if (destination.empty()) return std::nullopt;
  if (i != args.size()) return fail(error, "delete takes one destination");
  return one_call("delete_route", {{"destination", destination}}, nothing);
}

std::optional<Plan> plan_get(const Args& args, std::string* error) {
  if (args.size() != 2 || !ctl::parse_ipv4(args[1]))
    return fail(error, "get takes one address (A.B.C.D)");
  std::string address = args[1];
  return one_call("get_route", {{"address", address}}, [address](const json& result) {
    return format_route_get(address, result.get<ctl::RouteInfo>());
  });
}

}  // namespace

std::string format_routes(const std::vector<ctl::RouteInfo>& routes) {
  std::string out = "Routing tables\n\nInternet:\n";
  out += route_row("Destination", "Gateway", "Flags", "Use", "Mtu", "Netif");
  for (const auto& r : routes)
    out += route_row(r.destination, r.gateway, r.flags, std::to_string(r.use),
                     std::to_string(r.mtu), r.interface);
  return out;
}

std::string format_route_flags(const std::string& letters) {
  std::string out;
  for (char c : letters) {
    std::string name(1, c);
    for (const FlagName& f : kFlagNames)
      if (f.letter == c) name = f.name;
    out += (out.empty() ? "" : ",") + name;
  }
  return "<" + out + ">";
}

std::string format_route_get(const std::string& address, const ctl::RouteInfo& route) {
  std::string out = "   route to: " + address + "\n";
  auto prefix = ctl::parse_prefix(route.destination);
  if (prefix && prefix->length < 32) {
    out += "destination: " + ctl::format_ipv4(prefix->address) + "\n";
    out += "       mask: " + ctl::format_ipv4(ctl::netmask_of(prefix->length)) + "\n";
  } else if (prefix) {
    out += "destination: " + ctl::format_ipv4(prefix->address) + "\n";  // a host route
  } else {
    out += "destination: " + route.destination + "\n";
    if (route.destination == "default") out += "       mask: default\n";
  }
  if (!route.gateway.empty()) out += "    gateway: " + route.gateway + "\n";
  out += "  interface: " + route.interface + "\n";
  out += "      flags: " + format_route_flags(route.flags) + "\n";
  return out;
}

std::optional<Plan> plan_route(const Args& args, std::string* error) {
  const std::string verb = args.empty() ? "" : args[0];
  if (verb == "add") return plan_add(args, error);
  if (verb == "delete") return plan_delete(args, error);
  if (verb == "get") return plan_get(args, error);
  if (verb == "show" && args.size() == 1) return one_call("routes", json::object(), show_routes);
  return fail(error, "expected add, delete, get ADDR or show");
}

}  // namespace pktd::pkt
