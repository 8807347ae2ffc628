// The wire form of the IPv4 types (protocol.h). Missing fields keep their defaults, as for the
// interface types, so that replies of an older or newer pktd still read.
#include "ctl/base64.h"
#include "ctl/protocol.h"

namespace pktd::ctl {

using nlohmann::json;

namespace {

// A base64 field's octets; throws like the other from_json failures.
std::string octets(const json& j, const char* key) {
  std::string text = j.value(key, std::string());
  auto decoded = base64_decode(text);
  if (!decoded)
    throw json::other_error::create(599, std::string("'") + key + "' is not base64", &j);
  return *decoded;
}

}  // namespace

void to_json(json& j, const InterfaceInfo::Inet& inet) {
  j = json{
      {"address", inet.address}, {"prefix_len", inet.prefix_len}, {"broadcast", inet.broadcast}};
}

void from_json(const json& j, InterfaceInfo::Inet& inet) {
  InterfaceInfo::Inet out;
  out.address = j.at("address").get<std::string>();
  out.prefix_len = j.value("prefix_len", out.prefix_len);
  out.broadcast = j.value("broadcast", out.broadcast);
  inet = std::move(out);
}

void to_json(json& j, const RouteInfo& route) {
  j = json{{"destination", route.destination}, {"gateway", route.gateway}, {"flags", route.flags},
           {"interface", route.interface},     {"use", route.use},         {"mtu", route.mtu}};
}

void from_json(const json& j, RouteInfo& route) {
  RouteInfo out;
  out.destination = j.at("destination").get<std::string>();
  out.gateway = j.value("gateway", out.gateway);
  out.flags = j.value("flags", out.flags);
  out.interface = j.value("interface", out.interface);
  out.use = j.value("use", out.use);
  out.mtu = j.value("mtu", out.mtu);
  route = std::move(out);
}

void to_json(json& j, const ArpInfo& entry) {
  j = json{{"address", entry.address},
           {"mac", entry.mac},
           {"interface", entry.interface},
           {"state", entry.state},
           {"expires_in_s", entry.expires_in_s}};
}

void from_json(const json& j, ArpInfo& entry) {
  ArpInfo out;
  out.address = j.at("address").get<std::string>();
  out.mac = j.value("mac", out.mac);
  out.interface = j.value("interface", out.interface);
  out.state = j.value("state", out.state);
  out.expires_in_s = j.value("expires_in_s", out.expires_in_s);
  entry = std::move(out);
}

void to_json(json& j, const PingRequest& request) {
  j = json{{"destination", request.destination},
           {"id", request.id},
           {"sequence", request.sequence},
           {"size", request.size},
           {"ttl", request.ttl},
           {"timeout_ms", request.timeout_ms}};
}

void to_json(json& j, const PingResult& result) {
  j = json{{"replied", result.replied}, {"rtt_ms", result.rtt_ms},
           {"bytes", result.bytes},     {"ttl", result.ttl},
           {"from", result.from},       {"icmp_error", result.icmp_error}};
}

void from_json(const json& j, PingResult& result) {
  PingResult out;
  out.replied = j.value("replied", out.replied);
  out.rtt_ms = j.value("rtt_ms", out.rtt_ms);
  out.bytes = j.value("bytes", out.bytes);
  out.ttl = j.value("ttl", out.ttl);
  out.from = j.value("from", out.from);
  out.icmp_error = j.value("icmp_error", out.icmp_error);
  result = std::move(out);
}

void to_json(json& j, const SocketInfo& socket) {
  j = json{{"protocol", socket.protocol},     {"local", socket.local},
           {"remote", socket.remote},         {"state", socket.state},
           {"recv_queue", socket.recv_queue}, {"send_queue", socket.send_queue}};
}

void from_json(const json& j, SocketInfo& socket) {
  SocketInfo out;
  out.protocol = j.at("protocol").get<std::string>();
  out.local = j.value("local", out.local);
  out.remote = j.value("remote", out.remote);
  out.state = j.value("state", out.state);
  out.recv_queue = j.value("recv_queue", out.recv_queue);
  out.send_queue = j.value("send_queue", out.send_queue);
  socket = std::move(out);
}

void to_json(json& j, const UdpDatagramInfo& datagram) {
  j = json{{"from", datagram.from}, {"to", datagram.to}, {"data", base64_encode(datagram.data)}};
}

void from_json(const json& j, UdpDatagramInfo& datagram) {
  UdpDatagramInfo out;
  out.from = j.value("from", out.from);
  out.to = j.value("to", out.to);
  out.data = octets(j, "data");
  datagram = std::move(out);
}

void to_json(json& j, const CapturedFrame& frame) {
  j = json{{"time_ns", frame.time_ns},
           {"outgoing", frame.outgoing},
           {"original_length", frame.original_length},
           {"data", base64_encode(frame.data)}};
}

void from_json(const json& j, CapturedFrame& frame) {
  CapturedFrame out;
  out.time_ns = j.value("time_ns", out.time_ns);
  out.outgoing = j.value("outgoing", out.outgoing);
  out.data = octets(j, "data");
  out.original_length = j.value("original_length", static_cast<uint32_t>(out.data.size()));
  frame = std::move(out);
}

void to_json(json& j, const CaptureRead& read) {
  j = json{{"frames", read.frames},
           {"dropped", read.dropped},
           {"link_type", read.link_type},
           {"closed", read.closed}};
}

void from_json(const json& j, CaptureRead& read) {
  CaptureRead out;
  out.frames = j.value("frames", out.frames);
  out.dropped = j.value("dropped", out.dropped);
  out.link_type = j.value("link_type", out.link_type);
  out.closed = j.value("closed", out.closed);
  read = std::move(out);
}

}  // namespace pktd::ctl
