// The control socket's view of this daemon (ctl/backend.h), over the interfaces, the driver
// manager and the runtime. Every call runs on a pseudo-thread in the stack context.
#pragma once

#include "ctl/backend.h"
#include "daemon/drivers.h"
#include "net/interfaces.h"
#include "runtime/runtime.h"

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

  static ctl::InterfaceInfo describe(net::Ifnet& ifp);

 private:
  rt::Runtime& rt_;
  net::Interfaces& ifs_;
  net::DriverManager& drivers_;
};

}  // namespace pktd::daemon
