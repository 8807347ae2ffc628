// Requests as the server handles them: parsed and checked on the worker that read them, run
// against the Backend on a pseudo-thread in the stack context.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctl/backend.h"

namespace pktd::ctl {

// clang-format off
enum class Op {
  // interfaces and drivers
  interfaces, interface, set_up, set_mtu, destroy, mount, driver_request, threads,
  // IPv4 configuration and state
  add_address, delete_address, routes, add_route, delete_route, get_route, arp, arp_delete,
  arp_set, protocol_stats, buffer_stats, sockets,
  // tools: ping, the UDP test hooks, capture
  ping, udp_send, udp_receive, capture_start, capture_read, capture_stop,
};
// clang-format on

const char* to_string(Op op);
// True for the ops that need a privileged caller: those that change the configuration, and those
// that send or see traffic of others (udp_*, capture_*).
bool changes_configuration(Op op);

// One request with its arguments typed and checked; only those of its op are set. docs/pkt.md
// lists each op's arguments, their ranges and which are optional.
struct Request {
  Op op = Op::interfaces;
  // The interface: interface, set_up, set_mtu, destroy, driver_request, add_address,
  // delete_address, capture_start.
  std::string name;
  bool up = false;      // set_up
  uint32_t mtu = 0;     // set_mtu
  std::string path;     // mount: a driver name or a shared object's path
  std::string options;  // mount: "opt=val,..." (optional)
  std::string text;     // driver_request: the request

  struct Address {
    std::string cidr;     // add_address: "A.B.C.D/LEN"
    bool alias = false;   // add_address
    std::string address;  // delete_address, get_route, arp_delete, arp_set: "A.B.C.D"
    std::string mac;      // arp_set, normalized: "02:70:00:00:00:02"
  } address;
  struct Route {
    std::string destination;  // add_route, delete_route: "default", "A.B.C.D", "A.B.C.D/LEN"
    std::string gateway;      // add_route: "A.B.C.D" or "" (then interface is set)
    std::string interface;    // add_route
  } route;
  PingRequest ping;  // ping
  struct Udp {
    uint16_t local_port = 0;     // udp_send: 0 for any
    std::string destination;     // udp_send
    uint16_t port = 0;           // udp_send: the destination's; udp_receive: the one to bind
    std::string data;            // udp_send: the payload (decoded from base64)
    uint32_t count = 1;          // udp_receive: at most this many datagrams
    uint32_t timeout_ms = 1000;  // udp_receive
  } udp;
  struct Capture {
    uint32_t snaplen = 262144;  // capture_start
    uint64_t session = 0;       // capture_read, capture_stop
    uint32_t max_frames = 256;  // capture_read
    uint32_t wait_ms = 200;     // capture_read
  } capture;
};

struct ParsedRequest {
  Request request;
  Error error;  // set when the message is not a valid request; the reply says why
};

// Checks everything that needs no backend: JSON, version, op, arguments and their types.
ParsedRequest parse_request(std::string_view message);

// Who may change the configuration: root, and the members of admin_group if there is one.
class AccessPolicy {
 public:
  explicit AccessPolicy(std::optional<gid_t> admin_group);
  // gid is the primary group (SO_PEERCRED), groups the supplementary ones (SO_PEERGROUPS).
  bool privileged(uid_t uid, gid_t gid, const std::vector<gid_t>& groups) const;
  // EPERM for a change by an unprivileged caller; reads are open to everyone.
  Error authorize(const Request& request, const Caller& caller) const;

 private:
  std::optional<gid_t> admin_group_;
  std::string denied_;  // the EPERM message, naming who may
};

// Runs the request: the reply message. Stack context (a pseudo-thread: the backend may sleep).
// Never throws: an exception from the backend becomes an EIO reply.
nlohmann::json execute(Backend& backend, const Request& request);

}  // namespace pktd::ctl
