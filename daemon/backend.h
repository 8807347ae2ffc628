// The control socket's view of this daemon (ctl/backend.h), over the interfaces, the driver
// manager and the runtime. Every call runs on a pseudo-thread in the stack context.
#pragma once

#include "ctl/backend.h"
#include "daemon/drivers.h"
#include "inet/stack.h"
#include "net/interfaces.h"
#include "runtime/runtime.h"
#include "sockets/service.h"

namespace pktd::daemon {

class Backend final : public ctl::Backend {
 public:
  Backend(rt::Runtime& rt, net::Interfaces& ifs, net::DriverManager& drivers)
      : rt_(rt), ifs_(ifs), drivers_(drivers) {}

  std::vector<ctl::InterfaceInfo> interfaces() override;
  ctl::Result<ctl::InterfaceInfo> interface(const std::string& name) override;
  ctl::Error set_up(const std::string& name, bool up) override;
  ctl::Error set_mtu(const std::string& name, uint32_t mtu) override;
  ctl::Error destroy(const std::string& name) override;
  ctl::Result<std::vector<std::string>> mount(const std::string& name_or_path,
                                              const std::string& options) override;
  ctl::Result<std::string> driver_request(const std::string& name,
                                          const std::string& request) override;
  std::vector<ctl::ThreadInfo> threads() override;

  // IPv4 (backend_inet.cc). Without a stack (start-up, shutdown) they answer ENETDOWN.
  void set_stack(inet::Stack* stack) { stack_ = stack; }
  // Its counters join netstat -s as the "sockets" group. Stack context.
  void set_socket_service(sockets::SocketService* service) { socket_service_ = service; }
  ctl::Error add_address(const std::string& name, const std::string& cidr, bool alias) override;
  ctl::Error delete_address(const std::string& name, const std::string& address) override;
  ctl::Result<std::vector<ctl::RouteInfo>> routes() override;
  ctl::Error add_route(const std::string& destination, const std::string& gateway,
                       const std::string& interface) override;
  ctl::Error delete_route(const std::string& destination) override;
  ctl::Result<ctl::RouteInfo> get_route(const std::string& address) override;
  ctl::Result<std::vector<ctl::ArpInfo>> arp_entries() override;
  ctl::Error arp_delete(const std::string& address) override;
  ctl::Error arp_set(const std::string& address, const std::string& mac) override;
  ctl::Result<std::map<std::string, std::map<std::string, uint64_t>>> protocol_stats() override;
  ctl::Result<std::map<std::string, uint64_t>> buffer_stats() override;
  ctl::Result<std::vector<ctl::SocketInfo>> sockets() override;
  ctl::Result<ctl::PingResult> ping(const ctl::PingRequest& request) override;
  ctl::Error udp_send(uint16_t local_port, const std::string& destination, uint16_t port,
                      const std::string& data) override;
  ctl::Result<std::vector<ctl::UdpDatagramInfo>> udp_receive(uint16_t port, uint32_t count,
                                                             uint32_t timeout_ms) override;
  ctl::Result<uint64_t> capture_start(const std::string& name, uint32_t snaplen) override;
  ctl::Result<ctl::CaptureRead> capture_read(uint64_t session, uint32_t max_frames,
                                             uint32_t wait_ms) override;
  ctl::Error capture_stop(uint64_t session) override;

  static ctl::InterfaceInfo describe(net::Ifnet& ifp);

 private:
  rt::Runtime& rt_;
  net::Interfaces& ifs_;
  net::DriverManager& drivers_;
  inet::Stack* stack_ = nullptr;
  sockets::SocketService* socket_service_ = nullptr;

  void describe_inet(ctl::InterfaceInfo& info);
  void tcp_sockets(std::vector<ctl::SocketInfo>* out);
};

}  // namespace pktd::daemon
