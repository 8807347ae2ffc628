#include "ctl/protocol.h"

#include <cerrno>

namespace pktd::ctl {

using nlohmann::json;

std::string encode(const json& message) {
  return message.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string one_line(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return out;
}

json make_request(const std::string& op, json args) {
  return {{"version", kProtocolVersion}, {"op", op}, {"args", std::move(args)}};
}

json make_ok(json result) {
  return {{"version", kProtocolVersion}, {"ok", true}, {"result", std::move(result)}};
}

json make_error(const Error& error) {
  return {{"version", kProtocolVersion},
          {"ok", false},
          {"errno", error.code != 0 ? error.code : EIO},  // a failure always carries a code
          {"error", one_line(error.message)}};
}

namespace {

bool fail(std::string* why, std::string text) {
  *why = std::move(text);
  return false;
}

bool read_failure(const json& j, Reply* reply, std::string* why) {
  auto code = j.find("errno");
  auto text = j.find("error");
  if (code == j.end() || !code->is_number_integer() || text == j.end() || !text->is_string())
    return fail(why, "a failure without errno and error");
  reply->error.code = code->get<int>();
  reply->error.message = text->get<std::string>();
  if (reply->error.code == 0) reply->error.code = EIO;
  return true;
}

}  // namespace

bool parse_reply(std::string_view text, Reply* reply, std::string* why) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(why, "not a JSON object");
  auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer() ||
      version->get<int>() != kProtocolVersion)
    return fail(why, "protocol version " + (version == j.end() ? "none" : version->dump()) +
                         ", expected " + std::to_string(kProtocolVersion));
  auto ok = j.find("ok");
  if (ok == j.end() || !ok->is_boolean()) return fail(why, "no 'ok' field");
  *reply = Reply{};
  if (!ok->get<bool>()) return read_failure(j, reply, why);
  reply->result = j.value("result", json());
  return true;
}

void to_json(json& j, const InterfaceInfo& info) {
  j = json{{"name", info.name},
           {"index", info.index},
           {"mac", info.mac},
           {"mtu", info.mtu},
           {"flags", info.flags},
           {"link", info.link},
           {"capabilities", info.capabilities},
           {"driver", info.driver},
           {"driver_path", info.driver_path},
           {"driver_options", info.driver_options},
           {"send_queue_length", info.send_queue_length},
           {"send_queue_max", info.send_queue_max},
           {"counters", info.counters},
           {"inet", info.inet}};
}

void from_json(const json& j, InterfaceInfo& info) {
  InterfaceInfo out;
  out.name = j.at("name").get<std::string>();
  out.index = j.value("index", out.index);
  out.mac = j.value("mac", out.mac);
  out.mtu = j.value("mtu", out.mtu);
  out.flags = j.value("flags", out.flags);
  out.link = j.value("link", std::string("unknown"));
  out.capabilities = j.value("capabilities", out.capabilities);
  out.driver = j.value("driver", out.driver);
  out.driver_path = j.value("driver_path", out.driver_path);
  out.driver_options = j.value("driver_options", out.driver_options);
  out.send_queue_length = j.value("send_queue_length", out.send_queue_length);
  out.send_queue_max = j.value("send_queue_max", out.send_queue_max);
  out.counters = j.value("counters", out.counters);
  out.inet = j.value("inet", out.inet);
  info = std::move(out);
}

void to_json(json& j, const ThreadInfo& info) {
  j = json{{"name", info.name},
           {"tid", info.tid},
           {"kind", info.kind},
           {"holds_stack", info.holds_stack},
           {"state", info.state}};
}

void from_json(const json& j, ThreadInfo& info) {
  ThreadInfo out;
  out.name = j.at("name").get<std::string>();
  out.tid = j.value("tid", out.tid);
  out.kind = j.value("kind", out.kind);
  out.holds_stack = j.value("holds_stack", out.holds_stack);
  out.state = j.value("state", out.state);
  info = std::move(out);
}

}  // namespace pktd::ctl
