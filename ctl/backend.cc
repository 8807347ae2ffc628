// The IPv4 methods' defaults: ENOSYS, so that a backend (or a test's fake) implements only what
// it serves, and an older pktd says plainly what it lacks.
#include "ctl/backend.h"

#include <cerrno>

namespace pktd::ctl {

namespace {

Error unsupported(const char* op) {
  return {ENOSYS, std::string(op) + ": not supported by this pktd"};
}

template <typename T>
Result<T> unsupported_result(const char* op) {
  Result<T> r;
  r.error = unsupported(op);
  return r;
}

}  // namespace

Error Backend::add_address(const std::string&, const std::string&, bool) {
  return unsupported("add_address");
}

Error Backend::delete_address(const std::string&, const std::string&) {
  return unsupported("delete_address");
}

Result<std::vector<RouteInfo>> Backend::routes() {
  return unsupported_result<std::vector<RouteInfo>>("routes");
}

Error Backend::add_route(const std::string&, const std::string&, const std::string&) {
  return unsupported("add_route");
}

Error Backend::delete_route(const std::string&) { return unsupported("delete_route"); }

Result<RouteInfo> Backend::get_route(const std::string&) {
  return unsupported_result<RouteInfo>("get_route");
}

Result<std::vector<ArpInfo>> Backend::arp_entries() {
  return unsupported_result<std::vector<ArpInfo>>("arp");
}

Error Backend::arp_delete(const std::string&) { return unsupported("arp_delete"); }

Error Backend::arp_set(const std::string&, const std::string&) { return unsupported("arp_set"); }

Result<std::map<std::string, std::map<std::string, uint64_t>>> Backend::protocol_stats() {
  return unsupported_result<std::map<std::string, std::map<std::string, uint64_t>>>(
      "protocol_stats");
}

Result<std::map<std::string, uint64_t>> Backend::buffer_stats() {
  return unsupported_result<std::map<std::string, uint64_t>>("buffer_stats");
}

Result<std::vector<SocketInfo>> Backend::sockets() {
  return unsupported_result<std::vector<SocketInfo>>("sockets");
}

Result<PingResult> Backend::ping(const PingRequest&) {
  return unsupported_result<PingResult>("ping");
}

Error Backend::udp_send(uint16_t, const std::string&, uint16_t, const std::string&) {
  return unsupported("udp_send");
}

Result<std::vector<UdpDatagramInfo>> Backend::udp_receive(uint16_t, uint32_t, uint32_t) {
  return unsupported_result<std::vector<UdpDatagramInfo>>("udp_receive");
}

Result<uint64_t> Backend::capture_start(const std::string&, uint32_t) {
  return unsupported_result<uint64_t>("capture_start");
}

Result<CaptureRead> Backend::capture_read(uint64_t, uint32_t, uint32_t) {
  return unsupported_result<CaptureRead>("capture_read");
}

Error Backend::capture_stop(uint64_t) { return unsupported("capture_stop"); }

}  // namespace pktd::ctl
