// pkt udp send [-p LOCALPORT] HOST PORT TEXT, pkt udp recv [-c COUNT] [-W TIMEOUT_S] PORT.
// Test hooks (pktd's udp_send and udp_receive ops) until pktd serves sockets.
#include <cmath>

#include "ctl/base64.h"
#include "ctl/inet_text.h"
#include "ctl/protocol.h"
#include "tools/pkt/commands.h"
#include "tools/pkt/text.h"

namespace pktd::pkt {

using nlohmann::json;

namespace {

constexpr double kDefaultReceiveTimeoutS = 5;

std::optional<Plan> fail(std::string* error, std::string text) {
  *error = "udp " + std::move(text);
  return std::nullopt;
}

std::optional<uint16_t> parse_port(const std::string& word, uint32_t min) {
  auto port = parse_u32(word);
  if (!port || *port < min || *port > 65535) return std::nullopt;
  return static_cast<uint16_t>(*port);
}

// Options (each with a value) before the positional words; false after *error.
bool take_options(const Args& args, size_t* i, const std::string& known,
                  std::map<char, std::string>* values, std::string* error) {
  for (; *i < args.size() && args[*i].size() == 2 && args[*i][0] == '-'; ++*i) {
    char option = args[*i][1];
    if (known.find(option) == std::string::npos || *i + 1 >= args.size()) {
      *error = "udp: " + args[*i] + (*i + 1 >= args.size() ? " needs a value" : ": unknown option");
      return false;
    }
    (*values)[option] = args[++*i];
  }
  return true;
}

std::optional<Plan> plan_send(const Args& args, std::string* error) {
  size_t i = 1;
  std::map<char, std::string> options;
  if (!take_options(args, &i, "p", &options, error)) return std::nullopt;
  auto local_port = parse_port(options.count('p') ? options['p'] : "0", 0);
  if (!local_port) return fail(error, "send: -p " + options['p'] + ": expected a port, 0 to 65535");
  if (args.size() != i + 3) return fail(error, "send: expected HOST PORT TEXT");
  if (!ctl::parse_ipv4(args[i]))
    return fail(error, "send: " + args[i] + ": not a numeric IPv4 address");
  auto port = parse_port(args[i + 1], 1);
  if (!port) return fail(error, "send: " + args[i + 1] + ": expected a port, 1 to 65535");
  const std::string& text = args[i + 2];
  if (text.size() > ctl::kMaxUdpPayload) return fail(error, "send: TEXT is too long");
  return one_call("udp_send",
                  {{"local_port", *local_port},
                   {"destination", args[i]},
                   {"port", *port},
                   {"data", ctl::base64_encode(text)}},
                  nothing);
}

std::optional<Plan> plan_recv(const Args& args, std::string* error) {
  size_t i = 1;
  std::map<char, std::string> options;
  if (!take_options(args, &i, "cW", &options, error)) return std::nullopt;
  auto count = parse_u32(options.count('c') ? options['c'] : "1");
  if (!count || *count < 1 || *count > ctl::kMaxReceiveCount)
    return fail(error, "recv: -c: expected a count, 1 to " + std::to_string(ctl::kMaxReceiveCount));
  auto timeout = options.count('W') ? parse_seconds(options['W']) : kDefaultReceiveTimeoutS;
  if (!timeout || *timeout * 1000 > ctl::kMaxTimeoutMs)
    return fail(error, "recv: -W: expected seconds, at most 60");
  auto port = args.size() == i + 1 ? parse_port(args[i], 1) : std::nullopt;
  if (!port) return fail(error, "recv: expected one PORT, 1 to 65535");
  Plan plan = one_call("udp_receive",
                       {{"port", *port},
                        {"count", *count},
                        {"timeout_ms", static_cast<uint32_t>(std::lround(*timeout * 1000))}},
                       [](const json& result) {
                         return format_datagrams(result.get<std::vector<ctl::UdpDatagramInfo>>());
                       });
  std::string waited = format_seconds(*timeout);
  plan.select = [waited](const json& result) {
    if (result.empty()) throw Failure("udp recv: no datagram within " + waited + " s");
    return result;
  };
  return plan;
}

}  // namespace

std::string format_datagrams(const std::vector<ctl::UdpDatagramInfo>& datagrams) {
  std::string out;
  for (const auto& d : datagrams) out += "from " + d.from + ": " + printable(d.data) + "\n";
  return out;
}

std::optional<Plan> plan_udp(const Args& args, std::string* error) {
  if (!args.empty() && args[0] == "send") return plan_send(args, error);
  if (!args.empty() && args[0] == "recv") return plan_recv(args, error);
  return fail(error, "expects send or recv (test hooks)");
}

}  // namespace pktd::pkt
