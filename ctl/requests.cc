// Parsing and checking requests (on a worker, before the stack context sees them).
#include "ctl/requests.h"

#include <cerrno>
#include <limits>

#include "ctl/protocol.h"

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
};

const OpSpec* find_op(std::string_view name) {
  for (const OpSpec& spec : kOps)
    if (name == spec.name) return &spec;
  return nullptr;
}

Error bad(int code, std::string text) { return {code, "bad request: " + std::move(text)}; }

// Reads the arguments of one request, remembering the first problem.
class Args {
 public:
  explicit Args(const json& args) : args_(args) {}
  Error error;

  std::string string(const char* key, bool required = true) {
    const json* v = find(key, required);
    if (v == nullptr) return {};
    if (!v->is_string()) {
      wrong(key, "a string");
      return {};
    }
    return v->get<std::string>();
  }
  bool boolean(const char* key) {
    const json* v = find(key, true);
    if (v == nullptr) return false;
    if (!v->is_boolean()) {
      wrong(key, "true or false");
      return false;
    }
    return v->get<bool>();
  }
  uint32_t u32(const char* key) {
    const json* v = find(key, true);
    if (v == nullptr) return 0;
    // A JSON parser gives non-negative integers as unsigned, negative ones as signed.
    if (!v->is_number_unsigned() || v->get<uint64_t>() > std::numeric_limits<uint32_t>::max()) {
      wrong(key, "an integer from 0 to 4294967295");
      return 0;
    }
    return static_cast<uint32_t>(v->get<uint64_t>());
  }

 private:
  const json* find(const char* key, bool required) {
    if (error) return nullptr;
    auto it = args_.find(key);
    if (it != args_.end()) return &*it;
    if (required) error = bad(EINVAL, std::string("missing argument '") + key + "'");
    return nullptr;
  }
  void wrong(const char* key, const char* expected) {
    error = bad(EINVAL, std::string("argument '") + key + "' must be " + expected);
  }
  const json& args_;
};

Error read_args(const json& args, Request* r) {
  Args a(args);
  switch (r->op) {
    case Op::interfaces:
    case Op::threads:
      break;
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
  }
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
    return bad(EBADMSG,
               "malformed JSON: " + (end == std::string::npos ? what : what.substr(end + 2)));
  }
  if (!out->is_object()) return bad(EBADMSG, "not a JSON object");
  return {};
}

Error check_version(const json& j) {
  auto v = j.find("version");
  if (v == j.end()) return bad(EPROTONOSUPPORT, "no protocol 'version' (this pktd speaks 1)");
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
    p.error = bad(EINVAL, "no 'op' string");
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
    p.error = bad(EINVAL, "'args' must be an object");
    return p;
  }
  p.error = read_args(args != j.end() ? *args : kNoArgs, &p.request);
  return p;
}

}  // namespace pktd::ctl
