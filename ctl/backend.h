// What the control socket serves, as an interface: the daemon implements it (daemon/backend.cc);
// ctl/ turns requests into calls and results into messages; tests can use a fake.
//
// Every call runs on a pseudo-thread in the stack context, so an implementation may read and
// change the stack directly and may sleep (blockop for dlopen, for instance).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pktd::ctl {

struct Error {
  int code = 0;         // an errno; 0: success
  std::string message;  // one line for the user, e.g. "tap7: no such interface"
  explicit operator bool() const { return code != 0; }
};

template <typename T>
struct Result {
  T value{};
  Error error;
};

struct InterfaceInfo {
  std::string name;
  uint32_t index = 0;
  std::string mac;            // "02:70:00:00:00:02"
  uint32_t mtu = 0;
  uint32_t flags = 0;         // PKTD_IFF_* (admin | driver)
  std::string link;           // "up", "down", "unknown"
  uint32_t capabilities = 0;  // PKTD_IFCAP_*
  std::string driver;         // "tap", or "loopback" for lo0
  std::string driver_path;    // the shared object, "" for built-in interfaces
  std::string driver_options; // as given to -d / mount
  size_t send_queue_length = 0, send_queue_max = 0;
  std::map<std::string, uint64_t> counters;  // ipackets, ibytes, ..., drops by reason
};

struct ThreadInfo {
  std::string name;
  pid_t tid = 0;
  std::string kind;          // main, worker, tracked, watchdog
  bool holds_stack = false;  // the worker holding the stack context now
  std::string state;         // as the kernel sees it: running, sleeping, disk wait, stopped
};

// Who is asking (SO_PEERCRED). Changes need privileged.
struct Caller {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
  bool privileged = false;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::vector<InterfaceInfo> interfaces() = 0;
  virtual Result<InterfaceInfo> interface(const std::string& name) = 0;
  virtual Error set_up(const std::string& name, bool up) = 0;
  virtual Error set_mtu(const std::string& name, uint32_t mtu) = 0;
  // Destroys the interface; its shared object is unloaded with its last interface.
  virtual Error destroy(const std::string& name) = 0;
  // Loads a driver instance (like -d): name_or_path, and options "opt=val,...". Returns the
  // interfaces it created.
  virtual Result<std::vector<std::string>> mount(const std::string& name_or_path,
                                                 const std::string& options) = 0;
  // A driver-specific request (the driver's ioctl callback), text in and out.
  virtual Result<std::string> driver_request(const std::string& name, const std::string& request) = 0;
  virtual std::vector<ThreadInfo> threads() = 0;
};

}  // namespace pktd::ctl
