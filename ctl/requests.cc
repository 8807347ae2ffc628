// Parsing and checking requests (on a worker, before the stack context sees them).
#include "ctl/requests.h"

#include <cerrno>

#include "ctl/protocol.h"
#include "ctl/request_args.h"

namespace pktd::ctl {

using nlohmann::json;

namespace {

struct OpSpec {
  const char* name;
  Op op;
  bool changes;
};

constexpr OpSpec kOps[] = {
    {"interfaces", Op::interfaces, false},
    {"interface", Op::interface, false},
    {"set_up", Op::set_up, true},
    {"set_mtu", Op::set_mtu, true},
    {"destroy", Op::destroy, true},
    {"mount", Op::mount, true},
    {"driver_request", Op::driver_request, true},
    {"threads", Op::threads, false},
    {"add_address", Op::add_address, true},
    {"delete_address", Op::delete_address, true},
    {"routes", Op::routes, false},
    {"add_route", Op::add_route, true},
    {"delete_route", Op::delete_route, true},
    {"get_route", Op::get_route, false},
    {"arp", Op::arp, false},
    {"arp_delete", Op::arp_delete, true},
    {"arp_set", Op::arp_set, true},
    {"protocol_stats", Op::protocol_stats, false},
    {"buffer_stats", Op::buffer_stats, false},
    {"sockets", Op::sockets, false},
    {"ping", Op::ping, false},
    // The UDP hooks send as pktd and see others' traffic; capture is privileged like tcpdump.
    {"udp_send", Op::udp_send, true},
    {"udp_receive", Op::udp_receive, true},
    {"capture_start", Op::capture_start, true},
    {"capture_read", Op::capture_read, true},
    {"capture_stop", Op::capture_stop, true},
};

const OpSpec* find_op(std::string_view name) {
  for (const OpSpec& spec : kOps)
    if (name == spec.name) return &spec;
  return nullptr;
}

void read_interface_args(RequestArgs& a, Request* r) {
  switch (r->op) {
    case Op::interface:
    case Op::destroy:
      r->name = a.string("name");
      break;
    case Op::set_up:
      r->name = a.string("name");
      r->up = a.boolean("up");
      break;
    case Op::set_mtu:
      r->name = a.string("name");
      r->mtu = a.u32("mtu");
      break;
    case Op::mount:
      r->path = a.string("path");
      r->options = a.string("options", false);
      break;
    case Op::driver_request:
      r->name = a.string("name");
      r->text = a.string("request");
      break;
    default:
      break;
  }
}

void read_inet_args(RequestArgs& a, Request* r) {
  switch (r->op) {
    case Op::add_address:
      r->name = a.string("name");
      r->address.cidr = a.prefix("cidr");
      r->address.alias = a.boolean("alias", false);
      break;
    case Op::delete_address:
      r->name = a.string("name");
      r->address.address = a.ipv4("address");
      break;
    case Op::add_route:
      r->route.destination = a.route_destination("destination");
      r->route.gateway = a.ipv4("gateway", false);
      r->route.interface = a.string("interface", false);
      if (!a.error && r->route.gateway.empty() && r->route.interface.empty())
        a.error = bad_request(EINVAL, "add_route needs a 'gateway' or an 'interface'");
      break;
    case Op::delete_route:
      r->route.destination = a.route_destination("destination");
      break;
    case Op::get_route:
    case Op::arp_delete:
      r->address.address = a.ipv4("address");
      break;
    case Op::arp_set:
      r->address.address = a.ipv4("address");
      r->address.mac = a.mac("mac");
      break;
    default:
      break;
  }
}

void read_ping_args(RequestArgs& a, PingRequest* p) {
  const PingRequest defaults;
  p->destination = a.ipv4("destination");
  p->id = a.u16("id", 0, defaults.id);
  p->sequence = a.u16("sequence", 0, defaults.sequence);
  p->size = a.u32("size", 0, kMaxPingSize, defaults.size);
  p->ttl = static_cast<uint8_t>(a.u32("ttl", 1, 255, defaults.ttl));
  p->timeout_ms = a.u32("timeout_ms", 0, kMaxTimeoutMs, defaults.timeout_ms);
}

void read_tool_args(RequestArgs& a, Request* r) {
  const Request defaults;
  switch (r->op) {
    case Op::ping:
      read_ping_args(a, &r->ping);
      break;
    case Op::udp_send:
      r->udp.local_port = a.u16("local_port", 0, defaults.udp.local_port);
      r->udp.destination = a.ipv4("destination");
      r->udp.port = a.u16("port", 1);
      r->udp.data = a.octets("data", kMaxUdpPayload);
      break;
    case Op::udp_receive:
      r->udp.port = a.u16("port", 1);
      r->udp.count = a.u32("count", 1, kMaxReceiveCount, defaults.udp.count);
      r->udp.timeout_ms = a.u32("timeout_ms", 0, kMaxTimeoutMs, defaults.udp.timeout_ms);
      break;
    case Op::capture_start:
      r->name = a.string("name");
      r->capture.snaplen = a.u32("snaplen", 1, kMaxSnaplen, defaults.capture.snaplen);
      break;
    case Op::capture_read:
      r->capture.session = a.u64("session");
      r->capture.max_frames =
          a.u32("max_frames", 1, kMaxFramesPerRead, defaults.capture.max_frames);
      r->capture.wait_ms = a.u32("wait_ms", 0, kMaxCaptureWaitMs, defaults.capture.wait_ms);
      break;
    case Op::capture_stop:
      r->capture.session = a.u64("session");
      break;
    default:
      break;
  }
}

Error read_args(const json& args, Request* r) {
  RequestArgs a(args);
  read_interface_args(a, r);
  read_inet_args(a, r);
  read_tool_args(a, r);
  return a.error;
}

// The message as a JSON object, or why not. The parser's text loses its "[json.exception...]"
// prefix, which means nothing to a user.
Error parse_object(std::string_view message, json* out) {
  try {
    *out = json::parse(message);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    auto end = what.find("] ");
    return bad_request(
        EBADMSG, "malformed JSON: " + (end == std::string::npos ? what : what.substr(end + 2)));
  }
  if (!out->is_object()) return bad_request(EBADMSG, "not a JSON object");
  return {};
}

Error check_version(const json& j) {
  auto v = j.find("version");
  if (v == j.end())
    return bad_request(EPROTONOSUPPORT, "no protocol 'version' (this pktd speaks 1)");
  if (!v->is_number_integer() || v->get<int64_t>() != kProtocolVersion)
    return {EPROTONOSUPPORT, "unsupported protocol version " + v->dump() + " (this pktd speaks " +
                                 std::to_string(kProtocolVersion) + ")"};
  return {};
}

}  // namespace

const char* to_string(Op op) {
  for (const OpSpec& spec : kOps)
    if (spec.op == op) return spec.name;
  return "?";
}

bool changes_configuration(Op op) {
  for (const OpSpec& spec : kOps)
    if (spec.op == op) return spec.changes;
  return true;
}

ParsedRequest parse_request(std::string_view message) {
  ParsedRequest p;
  json j;
  if ((p.error = parse_object(message, &j)) || (p.error = check_version(j))) return p;
  auto op = j.find("op");
  if (op == j.end() || !op->is_string()) {
    p.error = bad_request(EINVAL, "no 'op' string");
    return p;
  }
  const OpSpec* spec = find_op(op->get<std::string>());
  if (spec == nullptr) {
    p.error = {EOPNOTSUPP,
               "unknown op " + op->dump(-1, ' ', false, json::error_handler_t::replace)};
    return p;
  }
  p.request.op = spec->op;
  auto args = j.find("args");
  static const json kNoArgs = json::object();
  if (args != j.end() && !args->is_object()) {
    p.error = bad_request(EINVAL, "'args' must be an object");
    return p;
  }
  p.error = read_args(args != j.end() ? *args : kNoArgs, &p.request);
  return p;
}

}  // namespace pktd::ctl
