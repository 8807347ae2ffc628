// Loading and unloading drivers (devnp-NAME.so): finding them, checking them, attaching them,
// and unloading each shared object once its last interface is gone.
#pragma once

#include <string>
#include <vector>

#include "ctl/backend.h"
#include "net/interfaces.h"
#include "pktd/driver.h"

namespace pktd::rt {
class Runtime;
}

namespace pktd::net {

// One driver instance: one -d or one mount. Its handle for the SDK is pktd_driver*.
struct LoadedDriver {
  std::string name;          // "tap"
  std::string path;          // the shared object
  std::string options;       // as the user gave them
  void* dl = nullptr;        // dlopen handle
  const pktd_driver_info* info = nullptr;
  std::vector<Ifnet*> interfaces;
  // The user's name=, unit=, mac=, mtu=: applied to the interfaces the driver creates.
  std::string name_override;
  int unit_override = -1;
  Mac mac_override{};
  uint32_t mtu_override = 0;
  class DriverManager* manager = nullptr;

  static LoadedDriver* from(pktd_driver* handle) { return reinterpret_cast<LoadedDriver*>(handle); }
  pktd_driver* handle() { return reinterpret_cast<pktd_driver*>(this); }
};

// The options every driver gets, taken out of the option string before the driver sees it.
struct CommonOptions {
  std::string name;
  int unit = -1;
  Mac mac{};
  uint32_t mtu = 0;
  std::string rest;  // what the driver parses itself
};
// Parses "name=x,unit=3,mac=02:..,mtu=9000,other=1"; false with error set on a bad value.
bool split_common_options(const std::string& options, CommonOptions* out, std::string* error);

class DriverManager {
 public:
  DriverManager(rt::Runtime& rt, Interfaces& ifs, std::vector<std::string> search_path);
  ~DriverManager();  // unload_all() if anything is left
  // Destroys every driver interface and unloads every driver. Stack context (drivers detach
  // interrupts and stop callouts), or once the runtime has stopped.
  void unload_all();
  DriverManager(const DriverManager&) = delete;
  DriverManager& operator=(const DriverManager&) = delete;

  // Loads and attaches a driver instance; on a pseudo-thread in the stack context (dlopen runs as
  // a blockop on the main thread). Returns the interfaces made, or an error that says why.
  ctl::Result<std::vector<std::string>> load(const std::string& name_or_path,
                                             const std::string& options);
  // Destroys one interface; unloads its shared object with its last interface. Stack context.
  ctl::Error destroy(const std::string& ifname);
  // The SDK's if_destroy: the driver destroys one of its interfaces from its own code, so an
  // unload that follows is deferred.
  void destroy_from_driver(Ifnet* ifp);
  // Called by the SDK's if_attach.
  Ifnet* attach_interface(LoadedDriver& drv, const pktd_if_config& cfg);
  LoadedDriver* driver_of(const Ifnet* ifp) const;
  // Where name would be found: the first existing candidate, or "" with error.
  std::string find(const std::string& name_or_path, std::string* error) const;
  const std::vector<std::string>& search_path() const { return search_path_; }
  Interfaces& interfaces() { return ifs_; }
  // Whether interfaces attached from now on hand their start to a polling worker, for drivers
  // that allow it (PKTD_DRIVER_START_ON_WORKER; -p tcpip,tx_handoff=0|1;
  // daemon/transmit_hand_off.h).
  void set_transmit_hand_off(bool on) { transmit_hand_off_ = on; }

 private:
  bool open(LoadedDriver& drv, std::string* error);
  void unload(LoadedDriver* drv);
  void remove_interfaces(LoadedDriver& drv);  // destroys them; the driver stays loaded

  rt::Runtime& rt_;
  Interfaces& ifs_;
  std::vector<std::string> search_path_;
  std::vector<LoadedDriver*> drivers_;
  bool transmit_hand_off_ = false;
  // Shared objects kept open because a tracked thread of theirs would not die: unmapping them
  // would pull the code from under it. Closed by a later unload_all once the threads are gone.
  std::vector<void*> lingering_;
  // The names of the tracked threads still running code of the object behind handle.
  std::vector<std::string> threads_running(const pktd_driver_info* info) const;
  void close_lingering();
};

// The search path: -D directories, then <exe>/../lib/pktd (the build tree's build/lib/pktd and
// an installed prefix's lib/pktd alike).
std::vector<std::string> default_driver_path(const std::vector<std::string>& extra);

// The host function table given to drivers (daemon/host.cc).
const pktd_host* driver_host();
// For as long as it lives, the first error a driver logs through the SDK from this pseudo-thread
// is also kept in `why`, so that a failed attach can tell its caller the reason (pkt mount
// prints it), not only the log. Keyed by pseudo-thread: two attaches asleep in blockops at once
// (two pkt mount) keep their own. Stack context, on a pseudo-thread.
class AttachErrorScope {
 public:
  explicit AttachErrorScope(std::string& why);
  ~AttachErrorScope();
  AttachErrorScope(const AttachErrorScope&) = delete;
  AttachErrorScope& operator=(const AttachErrorScope&) = delete;

 private:
  const void* pseudo_thread_;
};

}  // namespace pktd::net
