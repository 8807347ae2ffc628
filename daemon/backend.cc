#include "daemon/backend.h"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace pktd::daemon {
namespace {
ctl::Error no_such(const std::string& name) { return {ENXIO, name + ": no such interface"}; }

// The kernel's view of a thread (/proc/self/task/TID/stat, the field after the name).
std::string thread_state(int tid) {
  std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto paren = line.rfind(')');
  if (paren == std::string::npos || paren + 2 >= line.size()) return "?";
  switch (line[paren + 2]) {
    case 'R': return "running";
    case 'S': return "sleeping";
    case 'D': return "disk wait";
    case 'T': case 't': return "stopped";
    case 'Z': return "zombie";
    default: return std::string(1, line[paren + 2]);
  }
}
}  // namespace

ctl::InterfaceInfo Backend::describe(net::Ifnet& ifp) {
  ctl::InterfaceInfo info;
  info.name = ifp.name();
  info.index = ifp.index();
  info.mac = net::format_mac(ifp.mac());
  info.mtu = ifp.mtu();
  info.flags = ifp.flags();
  info.link = net::to_string(ifp.link_state());
  info.capabilities = ifp.capabilities();
  if (const net::LoadedDriver* drv = ifp.driver()) {
    info.driver = drv->name;
    info.driver_path = drv->path;
    info.driver_options = drv->options;
  } else {
    info.driver = (ifp.flags() & PKTD_IFF_LOOPBACK) != 0 ? "loopback" : "built-in";
  }
  info.send_queue_length = ifp.send_queue_length();
  info.send_queue_max = ifp.send_queue_max();
  const net::IfCounters& c = ifp.counters();
  auto& out = info.counters;
  out["ipackets"] = c.ipackets.load();
  out["ibytes"] = c.ibytes.load();
  out["opackets"] = c.opackets.load();
  out["obytes"] = c.obytes.load();
  out["ierrors"] = c.ierrors.load();
  out["oerrors"] = c.oerrors.load();
  out["iqdrops"] = c.iqdrops.load();
  out["collisions"] = c.collisions.load();
  out["link_changes"] = c.link_changes.load();
  out["drop_in_admin_down"] = c.in_admin_down.load();
  out["drop_in_no_protocol"] = c.in_no_handler.load();
  out["drop_out_admin_down"] = c.out_admin_down.load();
  out["drop_out_queue_full"] = c.out_queue_full.load();
  out["drop_out_purged"] = c.out_purged.load();
  out["start_calls"] = c.start_calls.load();
  out["start_lock_leaks"] = c.start_lock_leaks.load();
  out["tx_stalls"] = c.tx_stalls.load();
  return info;
}

std::vector<ctl::InterfaceInfo> Backend::interfaces() {
  std::vector<ctl::InterfaceInfo> out;
  for (net::Ifnet* ifp : ifs_.list()) {
    out.push_back(describe(*ifp));
    describe_inet(out.back());
  }
  return out;
}

ctl::Result<ctl::InterfaceInfo> Backend::interface(const std::string& name) {
  ctl::Result<ctl::InterfaceInfo> r;
  net::Ifnet* ifp = ifs_.find(name);
  if (ifp == nullptr) {
    r.error = no_such(name);
  } else {
    r.value = describe(*ifp);
    describe_inet(r.value);
  }
  return r;
}

ctl::Error Backend::set_up(const std::string& name, bool up) {
  net::Ifnet* ifp = ifs_.find(name);
  if (ifp == nullptr) return no_such(name);
  bool was_up = ifp->up();
  int err = ifp->set_up(up);
  if (err != 0) return {err, name + ": the driver could not start it: " + std::strerror(err)};
  if (up && !was_up && stack_ != nullptr) stack_->announce(ifp->index());
  return {};
}

ctl::Error Backend::set_mtu(const std::string& name, uint32_t mtu) {
  net::Ifnet* ifp = ifs_.find(name);
  if (ifp == nullptr) return no_such(name);
  int err = ifp->set_mtu(mtu);
  if (err == EINVAL) return {err, "mtu " + std::to_string(mtu) + ": expected 68 to 65535"};
  if (err != 0) return {err, name + ": " + std::strerror(err)};
  return {};
}

ctl::Error Backend::destroy(const std::string& name) { return drivers_.destroy(name); }

ctl::Result<std::vector<std::string>> Backend::mount(const std::string& name_or_path,
                                                     const std::string& options) {
  return drivers_.load(name_or_path, options);
}

ctl::Result<std::string> Backend::driver_request(const std::string& name,
                                                 const std::string& request) {
  ctl::Result<std::string> r;
  net::Ifnet* ifp = ifs_.find(name);
  if (ifp == nullptr) {
    r.error = no_such(name);
    return r;
  }
  if (ifp->ops() == nullptr || ifp->ops()->ioctl == nullptr) {
    r.error = {ENOTTY, name + ": its driver takes no requests"};
    return r;
  }
  char reply[4096] = {};
  int err = ifp->ops()->ioctl(ifp->handle(), ifp->softc(), request.c_str(), reply, sizeof reply);
  reply[sizeof reply - 1] = '\0';
  if (err != 0) {
    r.error = {err, name + ": " + request + ": " + (reply[0] != '\0' ? reply : std::strerror(err))};
  } else {
    r.value = reply;
  }
  return r;
}

std::vector<ctl::ThreadInfo> Backend::threads() {
  std::vector<ctl::ThreadInfo> out;
  for (const auto& t : rt_.threads())
    out.push_back({t.name, t.tid, t.kind, t.holds_stack, thread_state(t.tid)});
  return out;
}

}  // namespace pktd::daemon
