// Running a checked request against the Backend (stack context, on a pseudo-thread).
#include <cerrno>
#include <exception>

#include "ctl/protocol.h"
#include "ctl/requests.h"

namespace pktd::ctl {

using nlohmann::json;

namespace {

json reply(const Error& error, json result) {
  return error ? make_error(error) : make_ok(std::move(result));
}

json run(Backend& b, const Request& r) {
  switch (r.op) {
    case Op::interfaces:
      return make_ok(b.interfaces());
    case Op::interface: {
      auto res = b.interface(r.name);
      return reply(res.error, res.value);
    }
    case Op::set_up:
      return reply(b.set_up(r.name, r.up), {{"name", r.name}, {"up", r.up}});
    case Op::set_mtu:
      return reply(b.set_mtu(r.name, r.mtu), {{"name", r.name}, {"mtu", r.mtu}});
    case Op::destroy:
      return reply(b.destroy(r.name), {{"name", r.name}});
    case Op::mount: {
      auto res = b.mount(r.path, r.options);
      return reply(res.error, {{"interfaces", res.value}});
    }
    case Op::driver_request: {
      auto res = b.driver_request(r.name, r.text);
      return reply(res.error, {{"name", r.name}, {"reply", res.value}});
    }
    case Op::threads:
      return make_ok(b.threads());
  }
  return make_error({EOPNOTSUPP, "op not implemented"});
}

}  // namespace

json execute(Backend& backend, const Request& request) {
  // A throwing backend must still answer, or the connection would wait forever.
  try {
    return run(backend, request);
  } catch (const std::exception& e) {
    return make_error(
        {EIO, std::string("internal error in ") + to_string(request.op) + ": " + e.what()});
  } catch (...) {
    return make_error({EIO, std::string("internal error in ") + to_string(request.op)});
  }
}

}  // namespace pktd::ctl
