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

template <typename T>
json reply(const Result<T>& result) {
  return reply(result.error, result.error ? json() : json(result.value));
}

using Handler = json (*)(Backend& b, const Request& r);

struct OpHandler {
  Op op;
  Handler run;
};

// One entry per op: the backend call and the result it answers with (docs/pkt.md).
const OpHandler kHandlers[] = {
    {Op::interfaces, [](Backend& b, const Request&) { return make_ok(b.interfaces()); }},
    {Op::interface, [](Backend& b, const Request& r) { return reply(b.interface(r.name)); }},
    {Op::set_up,
     [](Backend& b, const Request& r) {
       return reply(b.set_up(r.name, r.up), {{"name", r.name}, {"up", r.up}});
     }},
    {Op::set_mtu,
     [](Backend& b, const Request& r) {
       return reply(b.set_mtu(r.name, r.mtu), {{"name", r.name}, {"mtu", r.mtu}});
     }},
    {Op::destroy,
     [](Backend& b, const Request& r) {
       return reply(b.destroy(r.name), {{"name", r.name}});
     }},
    {Op::mount,
     [](Backend& b, const Request& r) {
       auto res = b.mount(r.path, r.options);
       return reply(res.error, {{"interfaces", res.value}});
     }},
    {Op::driver_request,
     [](Backend& b, const Request& r) {
       auto res = b.driver_request(r.name, r.text);
       return reply(res.error, {{"name", r.name}, {"reply", res.value}});
     }},
    {Op::threads, [](Backend& b, const Request&) { return make_ok(b.threads()); }},
    {Op::add_address,
     [](Backend& b, const Request& r) {
       const auto& a = r.address;
       return reply(b.add_address(r.name, a.cidr, a.alias),
                    {{"name", r.name}, {"cidr", a.cidr}, {"alias", a.alias}});
     }},
    {Op::delete_address,
     [](Backend& b, const Request& r) {
       return reply(b.delete_address(r.name, r.address.address),
                    {{"name", r.name}, {"address", r.address.address}});
     }},
    {Op::routes, [](Backend& b, const Request&) { return reply(b.routes()); }},
    {Op::add_route,
     [](Backend& b, const Request& r) {
       const auto& rt = r.route;
       return reply(
           b.add_route(rt.destination, rt.gateway, rt.interface),
           {{"destination", rt.destination}, {"gateway", rt.gateway}, {"interface", rt.interface}});
     }},
    {Op::delete_route,
     [](Backend& b, const Request& r) {
       return reply(b.delete_route(r.route.destination), {{"destination", r.route.destination}});
     }},
    {Op::get_route,
     [](Backend& b, const Request& r) { return reply(b.get_route(r.address.address)); }},
    {Op::arp, [](Backend& b, const Request&) { return reply(b.arp_entries()); }},
    {Op::arp_delete,
     [](Backend& b, const Request& r) {
       return reply(b.arp_delete(r.address.address), {{"address", r.address.address}});
     }},
    {Op::arp_set,
     [](Backend& b, const Request& r) {
       return reply(b.arp_set(r.address.address, r.address.mac),
                    {{"address", r.address.address}, {"mac", r.address.mac}});
     }},
    {Op::protocol_stats, [](Backend& b, const Request&) { return reply(b.protocol_stats()); }},
    {Op::buffer_stats, [](Backend& b, const Request&) { return reply(b.buffer_stats()); }},
    {Op::sockets, [](Backend& b, const Request&) { return reply(b.sockets()); }},
    {Op::ping, [](Backend& b, const Request& r) { return reply(b.ping(r.ping)); }},
    {Op::udp_send,
     [](Backend& b, const Request& r) {
       const auto& u = r.udp;
       return reply(b.udp_send(u.local_port, u.destination, u.port, u.data),
                    {{"local_port", u.local_port},
                     {"destination", u.destination},
                     {"port", u.port},
                     {"length", u.data.size()}});
     }},
    {Op::udp_receive,
     [](Backend& b, const Request& r) {
       return reply(b.udp_receive(r.udp.port, r.udp.count, r.udp.timeout_ms));
     }},
    {Op::capture_start,
     [](Backend& b, const Request& r) {
       auto res = b.capture_start(r.name, r.capture.snaplen);
       return reply(res.error,
                    {{"session", res.value}, {"name", r.name}, {"snaplen", r.capture.snaplen}});
     }},
    {Op::capture_read,
     [](Backend& b, const Request& r) {
       const auto& c = r.capture;
       return reply(b.capture_read(c.session, c.max_frames, c.wait_ms));
     }},
    {Op::capture_stop,
     [](Backend& b, const Request& r) {
       return reply(b.capture_stop(r.capture.session), {{"session", r.capture.session}});
     }},
};

json run(Backend& b, const Request& r) {
  for (const OpHandler& h : kHandlers)
    if (h.op == r.op) return h.run(b, r);
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
