// What every in-tree driver does at the C ABI boundary (include/pktd/driver.h): no exception may
// leave a function pktd calls, and attach checks the host table first. Header-only and built
// into each driver, which still links nothing from pktd.
#pragma once

#include <cerrno>
#include <exception>
#include <new>
#include <utility>

#include "pktd/driver.h"

namespace pktd_kit {

inline void log_escaped(const pktd_host* host, const char* driver, const char* where,
                        const char* what) noexcept {
  if (host != nullptr && host->log != nullptr)
    host->log(PKTD_LOG_ERROR, "%s: %s: exception stopped at the driver boundary: %s", driver,
              where, what);
}

// Runs body; an exception is logged (naming the driver and the callback) and stops here.
template <typename Body>
void guarded(const pktd_host* host, const char* driver, const char* where, Body&& body) noexcept {
  try {
    std::forward<Body>(body)();
  } catch (const std::exception& e) {
    log_escaped(host, driver, where, e.what());
  } catch (...) {
    log_escaped(host, driver, where, "unknown exception");
  }
}

// The same for a callback with a result: on_exception when body threw.
template <typename R, typename Body>
R guarded(const pktd_host* host, const char* driver, const char* where, R on_exception,
          Body&& body) noexcept {
  try {
    return std::forward<Body>(body)();
  } catch (const std::exception& e) {
    log_escaped(host, driver, where, e.what());
  } catch (...) {
    log_escaped(host, driver, where, "unknown exception");
  }
  return on_exception;
}

// pktd_host grows at the end: an older pktd's shorter table lacks functions a driver calls.
inline bool host_usable(const pktd_host* host) {
  return host != nullptr && host->abi_version == PKTD_DRIVER_ABI_VERSION &&
         host->size >= sizeof(pktd_host);
}

// The body of pktd_driver_info.attach: ENOTSUP for a host it cannot use, ENOMEM when memory ran
// out, EIO (logged) for any other exception; else what attach returned.
template <typename Attach>
int guarded_attach(const pktd_host* host, const char* driver, Attach&& attach) noexcept {
  if (!host_usable(host)) return ENOTSUP;
  try {
    return std::forward<Attach>(attach)();
  } catch (const std::bad_alloc&) {
    log_escaped(host, driver, "attach", "out of memory");
    return ENOMEM;
  } catch (const std::exception& e) {
    log_escaped(host, driver, "attach", e.what());
  } catch (...) {
    log_escaped(host, driver, "attach", "unknown exception");
  }
  return EIO;
}

// The body of a driver's attach after its options are parsed: sc (just allocated; null means out
// of memory) is filled in by build(sc). Until build has succeeded, also when an exception
// unwinds through it, undo(sc) releases what build made besides the interface and the softc,
// and the softc is deleted unless keep(sc) says something still owns it: by default, an interface
// was made, so pktd destroys what the failed attach left and the driver's detach frees the softc.
// (The driver must not if_destroy it here: destroying a driver's last interface unloads the
// driver, which is still running this code.)
template <typename Softc>
int build_softc(Softc* sc, int (*build)(Softc&), void (*undo)(Softc&),
                bool (*keep)(const Softc&) = nullptr) {
  if (sc == nullptr) return ENOMEM;
  struct Pending {
    Softc* sc;
    void (*undo)(Softc&);
    bool (*keep)(const Softc&);
    ~Pending() {
      if (sc == nullptr) return;
      undo(*sc);
      if (keep != nullptr ? !keep(*sc) : sc->ifp == nullptr) delete sc;
    }
  } pending{sc, undo, keep};
  int err = build(*sc);
  if (err == 0) pending.sc = nullptr;
  return err;
}

}  // namespace pktd_kit
