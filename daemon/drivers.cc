#include "daemon/drivers.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>

#include "base/log.h"
#include "daemon/transmit_hand_off.h"
#include "runtime/runtime.h"

namespace pktd::net {
namespace {

bool parse_mac(const std::string& text, Mac* mac) {
  unsigned v[6];
  char extra;
  if (std::sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                  &extra) != 6)
    return false;
  for (int i = 0; i < 6; ++i) {
    if (v[i] > 255) return false;
    (*mac)[static_cast<size_t>(i)] = static_cast<uint8_t>(v[i]);
  }
  return ((*mac)[0] & 1) == 0 && *mac != Mac{};  // a unicast, non-zero address
}

bool parse_uint(const std::string& text, unsigned long max, unsigned long* out) {
  if (text.empty() || text.size() > 10) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  *out = std::stoul(text);
  return *out <= max;
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

// A driver runs with the daemon's privileges: refuse one that anybody could have replaced.
bool writable_by_others(const std::string& path, std::string* what) {
  for (const std::string& p : {path, dir_of(path)}) {
    struct stat st{};
    if (stat(p.c_str(), &st) != 0) continue;
    bool sticky_dir = S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) != 0;
    if ((st.st_mode & S_IWOTH) != 0 && !sticky_dir) {
      *what = p;
      return true;
    }
  }
  return false;
}

}  // namespace

bool split_common_options(const std::string& options, CommonOptions* out, std::string* error) {
  std::string copy = options;
  char* cursor = copy.data();
  char *key = nullptr, *value = nullptr;
  std::string rest;
  while (pktd_next_option(&cursor, &key, &value) != 0) {
    std::string k = key, v = value;
    bool bare = value == key + k.size();  // a bare "flag", not "flag="
    unsigned long n = 0;
    if (k == "name") {
      if (v.empty()) return *error = "name=: expected an interface name prefix", false;
      out->name = v;
    } else if (k == "unit") {
      if (!parse_uint(v, 9999, &n)) return *error = "unit=" + v + ": expected 0 to 9999", false;
      out->unit = static_cast<int>(n);
    } else if (k == "mac") {
      if (!parse_mac(v, &out->mac))
        return *error = "mac=" + v + ": expected a unicast address like 02:00:00:00:00:01", false;
    } else if (k == "mtu") {
      if (!parse_uint(v, 65535, &n) || n < 68)
        return *error = "mtu=" + v + ": expected 68 to 65535", false;
      out->mtu = static_cast<uint32_t>(n);
    } else {
      if (!rest.empty()) rest += ",";
      rest += bare ? k : k + "=" + v;
    }
  }
  out->rest = rest;
  return true;
}

std::vector<std::string> default_driver_path(const std::vector<std::string>& extra) {
  std::vector<std::string> path = extra;
  char exe[PATH_MAX] = {};
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) path.push_back(dir_of(dir_of(std::string(exe, static_cast<size_t>(n)))) + "/lib/pktd");
  return path;
}

DriverManager::DriverManager(rt::Runtime& rt, Interfaces& ifs, std::vector<std::string> search_path)
    : rt_(rt), ifs_(ifs), search_path_(std::move(search_path)) {}

DriverManager::~DriverManager() { unload_all(); }

void DriverManager::unload_all() {
  while (!drivers_.empty()) {
    LoadedDriver* drv = drivers_.back();
    remove_interfaces(*drv);
    unload(drv);
  }
  close_lingering();
}

std::vector<std::string> DriverManager::threads_running(const pktd_driver_info* info) const {
  std::vector<std::string> names;
  Dl_info object{};
  if (info == nullptr || dladdr(reinterpret_cast<const void*>(info->attach), &object) == 0)
    return names;
  for (const auto& [code, name] : rt_.live_thread_code()) {
    Dl_info where{};
    if (code != nullptr && dladdr(code, &where) != 0 && where.dli_fbase == object.dli_fbase)
      names.push_back(name);
  }
  return names;
}

void DriverManager::close_lingering() {
  std::erase_if(lingering_, [this](void* dl) {
    auto entry = reinterpret_cast<pktd_driver_entry_fn>(dlsym(dl, PKTD_DRIVER_ENTRY_SYMBOL));
    if (entry != nullptr && !threads_running(entry()).empty()) return false;
    dlclose(dl);
    return true;
  });
}

void DriverManager::remove_interfaces(LoadedDriver& drv) {
  while (!drv.interfaces.empty()) {
    Ifnet* ifp = drv.interfaces.back();
    drv.interfaces.pop_back();
    ifs_.destroy(ifp);
  }
}

std::string DriverManager::find(const std::string& name_or_path, std::string* error) const {
  if (name_or_path.find('/') != std::string::npos) {
    if (access(name_or_path.c_str(), R_OK) == 0) return name_or_path;
    *error = name_or_path + ": " + std::strerror(errno);
    return "";
  }
  std::string file = "devnp-" + name_or_path + ".so";
  std::string tried;
  for (const auto& dir : search_path_) {
    std::string candidate = dir + "/" + file;
    if (access(candidate.c_str(), R_OK) == 0) return candidate;
    tried += (tried.empty() ? "" : ", ") + dir;
  }
  *error = file + " not found in the driver path (" + tried + "; add a directory with -D)";
  return "";
}

bool DriverManager::open(LoadedDriver& drv, std::string* error) {
  std::string where;
  if (writable_by_others(drv.path, &where)) {
    *error = drv.path + ": refused: " + where + " is writable by other users";
    return false;
  }
  // dlopen reads the disk and runs the object's constructors: on the main thread, while this
  // pseudo-thread sleeps, so the stack context keeps serving.
  std::string dl_error;
  rt_.blockop([&] {
    drv.dl = dlopen(drv.path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (drv.dl == nullptr) dl_error = dlerror();
  });
  if (drv.dl == nullptr) {
    *error = "cannot load " + drv.path + ": " + dl_error;
    return false;
  }
  auto entry = reinterpret_cast<pktd_driver_entry_fn>(dlsym(drv.dl, PKTD_DRIVER_ENTRY_SYMBOL));
  if (entry == nullptr) {
    *error = drv.path + ": not a pktd driver (no " PKTD_DRIVER_ENTRY_SYMBOL " symbol)";
    return false;
  }
  drv.info = entry();
  if (drv.info == nullptr || drv.info->abi_version != PKTD_DRIVER_ABI_VERSION) {
    *error = drv.path + ": built for driver ABI " +
             (drv.info != nullptr ? std::to_string(drv.info->abi_version) : std::string("?")) +
             ", this pktd speaks ABI " + std::to_string(PKTD_DRIVER_ABI_VERSION) + "; rebuild it";
    return false;
  }
  if (drv.info->attach == nullptr || drv.info->name == nullptr) {
    *error = drv.path + ": its driver description has no name or attach";
    return false;
  }
  return true;
}

ctl::Result<std::vector<std::string>> DriverManager::load(const std::string& name_or_path,
                                                          const std::string& options) {
  ctl::Result<std::vector<std::string>> result;
  auto fail = [&](int code, const std::string& message) {
    PKTD_LOG_ERR("driver %s: %s", name_or_path.c_str(), message.c_str());
    result.error = {code, message};
    return result;
  };
  CommonOptions common;
  std::string error;
  if (!split_common_options(options, &common, &error)) return fail(EINVAL, error);
  auto* drv = new LoadedDriver;
  drv->options = options;
  drv->manager = this;
  drv->name_override = common.name;
  drv->unit_override = common.unit;
  drv->mac_override = common.mac;
  drv->mtu_override = common.mtu;
  drv->path = find(name_or_path, &error);
  if (drv->path.empty() || !open(*drv, &error)) {
    if (drv->dl != nullptr) dlclose(drv->dl);
    delete drv;
    return fail(ENOENT, error);
  }
  drv->name = drv->info->name;
  drivers_.push_back(drv);
  int err = 0;
  std::string why;  // the driver's own account of a failure, if it logged one
  std::optional<AttachErrorScope> keep_why(std::in_place, why);
  try {
    err = drv->info->attach(driver_host(), drv->handle(), common.rest.c_str());
  } catch (...) {
    err = EFAULT;
    PKTD_LOG_ERR("driver %s: attach threw an exception (none may cross the driver ABI)",
                 drv->name.c_str());
  }
  keep_why.reset();
  if (err == 0 && drv->interfaces.empty()) err = ENODEV;
  if (err != 0) {
    // Whatever the failed attach left behind goes too.
    remove_interfaces(*drv);
    unload(drv);
    return fail(err, "attach failed: " + (why.empty() ? std::string(std::strerror(err)) : why) +
                         (err == ENODEV ? " (it made no interface)" : ""));
  }
  for (Ifnet* ifp : drv->interfaces) result.value.push_back(ifp->name());
  PKTD_LOG_INFO("driver %s loaded from %s", drv->name.c_str(), drv->path.c_str());
  return result;
}

Ifnet* DriverManager::attach_interface(LoadedDriver& drv, const pktd_if_config& cfg) {
  if (cfg.ops == nullptr) {
    PKTD_LOG_ERR("driver %s: if_attach without callbacks", drv.name.c_str());
    return nullptr;
  }
  Ifnet::Config config;
  std::copy(std::begin(cfg.mac), std::end(cfg.mac), config.mac.begin());
  config.mtu = cfg.mtu;
  config.flags = cfg.flags;
  config.capabilities = cfg.capabilities;
  config.ops = cfg.ops;
  config.softc = cfg.softc;
  std::string prefix = cfg.name != nullptr ? cfg.name : drv.name;
  int unit = cfg.unit;
  // The user's options win; unit= and mac= name one interface, so only the first gets them.
  bool first = drv.interfaces.empty();
  if (!drv.name_override.empty()) prefix = drv.name_override;
  if (first && drv.unit_override >= 0) unit = drv.unit_override;
  if (first && drv.mac_override != Mac{}) config.mac = drv.mac_override;
  if (drv.mtu_override != 0) config.mtu = drv.mtu_override;
  Ifnet* ifp = ifs_.attach(prefix, unit, config);
  if (ifp == nullptr) return nullptr;
  ifp->set_driver(&drv);
  if (transmit_hand_off_ && drv.info != nullptr &&
      (drv.info->flags & PKTD_DRIVER_START_ON_WORKER) != 0)
    ifp->set_transmit_hand_off(make_worker_hand_off(rt_, *ifp));
  drv.interfaces.push_back(ifp);
  return ifp;
}

LoadedDriver* DriverManager::driver_of(const Ifnet* ifp) const { return ifp->driver(); }

ctl::Error DriverManager::destroy(const std::string& ifname) {
  auto refuse = [](int code, std::string message) {
    PKTD_LOG_ERR("destroy %s", message.c_str());
    return ctl::Error{code, std::move(message)};
  };
  Ifnet* ifp = ifs_.find(ifname);
  if (ifp == nullptr) return refuse(ENXIO, ifname + ": no such interface");
  LoadedDriver* drv = ifp->driver();
  if (drv == nullptr) return refuse(EPERM, ifname + ": a built-in interface cannot be destroyed");
  ifs_.destroy(ifp);
  std::erase(drv->interfaces, ifp);
  if (drv->interfaces.empty()) unload(drv);
  return {};
}

void DriverManager::destroy_from_driver(Ifnet* ifp) {
  LoadedDriver* drv = ifp->driver();
  std::erase(drv->interfaces, ifp);
  ifs_.destroy(ifp);
  if (!drv->interfaces.empty()) return;
  // The driver's own code is running: unload it later, if it is still unused then.
  rt_.post([this, drv] {
    bool known = std::find(drivers_.begin(), drivers_.end(), drv) != drivers_.end();
    if (known && drv->interfaces.empty()) unload(drv);
  }, "driver unload");
}

void DriverManager::unload(LoadedDriver* drv) {
  std::erase(drivers_, drv);
  if (drv->info != nullptr && drv->info->unload != nullptr) drv->info->unload();
  bool resident = drv->info != nullptr && (drv->info->flags & PKTD_DRIVER_STAY_RESIDENT) != 0;
  std::vector<std::string> threads = threads_running(drv->info);
  if (!threads.empty()) {
    std::string names;
    for (const auto& n : threads) names += (names.empty() ? "'" : ", '") + n + "'";
    PKTD_LOG_ERR("driver %s (%s) stays loaded: its tracked thread %s did not exit when reaped, "
                 "and unloading would pull its code from under it",
                 drv->name.c_str(), drv->path.c_str(), names.c_str());
    if (drv->dl != nullptr && !resident) lingering_.push_back(drv->dl);
  } else if (drv->dl != nullptr && !resident) {
    dlclose(drv->dl);
  }
  PKTD_LOG_INFO("driver %s (%s) %s", drv->name.c_str(), drv->path.c_str(),
                resident              ? "stays resident as it asked"
                : !threads.empty()    ? "detached (its object stays loaded)"
                                      : "unloaded");
  delete drv;
}

}  // namespace pktd::net
