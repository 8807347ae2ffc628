// devnp-nointr.so: the sample driver for a device with no receive interrupt (seed guide, "Driver
// doesn't use an RX interrupt"; docs/nointr.md walks through it). The "device" is a Unix datagram
// socket (unix_wire.h); a tracked thread receives, the software interrupt source passes frames
// up. This file: attach, the interface callbacks off the data path (init, stop, detach, ioctl),
// teardown, and the exported entry point.
//
// Link state. The wire is "plugged in" when something is bound at the peer's path: checked once
// at attach, then by every send (a refused or pathless send means DOWN, a sent frame UP). The
// stack queues and calls start whatever the link state (seed: the two states are independent),
// so the first frame sent after the peer appears brings the link up; until then frames are
// dropped and counted (tx_drop_no_peer), not kept: a peer that is not there reads nothing.
#include <cerrno>
#include <new>
#include <string>

#include "softc.h"

namespace pktd_nointr {


namespace {

// Supported admin flags: an Ethernet that does not hear its own broadcasts.
constexpr uint32_t kIfFlags = PKTD_IFF_BROADCAST | PKTD_IFF_SIMPLEX | PKTD_IFF_MULTICAST;

// --- teardown ---

// Seed (thread creation): "nw_pthread_reap() ... in the sam_detach() interface detach driver
// callback function". First, so that nothing enqueues or sends an event any more. False if the
// thread would not go: then everything it uses must stay.
bool reap_rx_thread(Softc& sc) {
  if (sc.rx_thread == nullptr) return true;
  if (int err = sc.host.thread_reap(sc.rx_thread); err != 0) {
    sc.host.log(PKTD_LOG_ERROR, "nointr: %s: receive thread not reaped (%s); its state is leaked",
                sc.ifp != nullptr ? sc.host.if_name(sc.ifp) : "?", error_text(err));
    sc.rx_thread_stuck = true;
    return false;
  }
  sc.rx_thread = nullptr;
  return true;
}

// Everything attach made except the interface and the softc; safe on a half-built softc and
// when called twice. Stack context (detach, or a failing attach).
void release(Softc& sc) {
  if (!reap_rx_thread(sc)) return;
  // Then the source: irq_detach waits for a process callback running now, after which none
  // runs again, and the receive lock is free (process holds it only until its enable).
  if (sc.rx_irq != nullptr) sc.host.irq_detach(sc.rx_irq);
  sc.rx_irq = nullptr;
  drop_queued_frames(sc);
  // stop(1) has cleared RUNNING under the transmit lock, so start no longer arms the kick.
  sc.host.callout_stop(&sc.kick);
  close_wire(sc.wire);
}

// --- pktd_if_ops ---

int nointr_init(pktd_ifnet* ifp, void* softc) {
  auto* sc = static_cast<Softc*>(softc);
  // Nothing to program: a socket has no filters or rings. Idempotent by construction.
  return guarded(&sc->host, "init", EIO, [&] {
    sc->host.if_set_flags(ifp, PKTD_IFF_RUNNING, 0);
    return 0;
  });
}

// Seed (sam_stop): under the transmit lock, stop the kick; a start running now finishes first,
// one after it sees RUNNING clear and neither sends nor arms the kick. Receiving goes on: frames
// for an interface that is down are dropped by if_input (counted there), and the socket drains.
void nointr_stop(pktd_ifnet* ifp, void* softc, int /*disable*/) {
  auto* sc = static_cast<Softc*>(softc);
  sc->host.if_tx_lock(ifp);
  guarded(&sc->host, "stop", [&] {
    sc->host.callout_stop(&sc->kick);
    sc->host.if_set_flags(ifp, 0, PKTD_IFF_RUNNING | PKTD_IFF_OACTIVE);
  });
  sc->host.if_tx_unlock(ifp);
}

void nointr_detach(pktd_ifnet* /*ifp*/, void* softc) {
  auto* sc = static_cast<Softc*>(softc);
  guarded(&sc->host, "detach", [&] { release(*sc); });
  // A thread that would not die still points at the softc: better leaked than freed under it.
  if (!sc->rx_thread_stuck) delete sc;
}

int nointr_ioctl(pktd_ifnet* /*ifp*/, void* softc, const char* request, char* reply,
                 size_t reply_len) {
  auto* sc = static_cast<Softc*>(softc);
  return guarded(&sc->host, "ioctl", EIO,
                 [&] { return handle_request(*sc, request, reply, reply_len); });
}

constexpr pktd_if_ops kOps = {.init = nointr_init,
                              .start = nointr_start,
                              .stop = nointr_stop,
                              .ioctl = nointr_ioctl,
                              .detach = nointr_detach};

// --- attach ---


int open_device(Softc& sc) {
  const Options& opt = sc.opt;
  int err = open_wire(opt.path, opt.peer, sc.wire);
  if (err == 0) return 0;
  const char* path = opt.path.c_str();
  switch (err) {
    case EADDRINUSE:
      sc.host.log(PKTD_LOG_ERROR, "nointr: path=%s is in use: a live socket is bound there "
                  "(another pktd?); not taking it over", path);
      break;
    case ENOTSOCK:
      sc.host.log(PKTD_LOG_ERROR, "nointr: path=%s exists and is not a socket; not removing it",
                  path);
      break;
    default:
      sc.host.log(PKTD_LOG_ERROR, "nointr: cannot bind a datagram socket at path=%s: %s", path,
                  error_text(err));
      break;
  }
  return err;
}

int create_interface(Softc& sc) {
  pktd_if_config cfg{};
  cfg.name = "nointr";
  cfg.unit = -1;
  // cfg.mac stays zero: pktd makes one per instance and interface (or takes the user's mac=).
  cfg.mtu = 0;  // Ethernet's 1500, unless mtu= says otherwise
  cfg.flags = kIfFlags;
  cfg.capabilities = 0;
  cfg.ops = &kOps;
  cfg.softc = &sc;
  sc.ifp = sc.host.if_attach(sc.drv, &cfg);
  // pktd has logged why; a taken name is the usual reason.
  return sc.ifp != nullptr ? 0 : EEXIST;
}

// Seed: "you will define a process interrupt callback, along with an enable-interrupt callback
// as you would with an ISR". No fd: a software source, raised by interrupt_queue + irq_send.
int attach_interrupt(Softc& sc) {
  std::string name = std::string(sc.host.if_name(sc.ifp)) + " rx";
  sc.rx_irq = sc.host.irq_attach(sc.drv, name.c_str(), -1, nointr_rx_process, nointr_rx_enable,
                                 &sc);
  return sc.rx_irq != nullptr ? 0 : EIO;  // pktd has logged why
}

// Seed: "All tracked POSIX threads must register a quiesce callback function" and "should always
// have a thread name". The name is the interface's plus " rx" (the kernel keeps 15 bytes).
int start_rx_thread(Softc& sc) {
  std::string name = std::string(sc.host.if_name(sc.ifp)) + " rx";
  int err = sc.host.thread_create(&sc.rx_thread, name.c_str(), nointr_rx_thread, &sc,
                                  nointr_rx_quiesce, &sc);
  if (err != 0) {
    sc.rx_thread = nullptr;
    sc.host.log(PKTD_LOG_ERROR, "nointr: %s: cannot start the receive thread: %s",
                sc.host.if_name(sc.ifp), error_text(err));
  }
  return err;
}

int attach_softc(Softc& sc) {
  const pktd_host& h = sc.host;
  // First: release() stops the callout, whatever fails after.
  h.callout_init(&sc.kick);
  // Allocated up front, so that neither data path allocates but mbufs.
  sc.rx_buf.resize(kMaxFrame);
  sc.tx_buf.resize(kMaxFrame);
  if (int err = open_device(sc); err != 0) return err;
  if (int err = create_interface(sc); err != 0) return err;
  if (int err = attach_interrupt(sc); err != 0) return err;
  if (int err = start_rx_thread(sc); err != 0) return err;
  bool peer = peer_present(sc.wire);
  set_link(sc, peer);
  h.log(PKTD_LOG_INFO, "nointr: %s: bound %s, sending to %s (%s)", h.if_name(sc.ifp),
        sc.opt.path.c_str(), sc.opt.peer.c_str(), peer ? "peer present" : "no peer yet");
  return 0;
}

// A failed attach frees the softc unless pktd owns it (an interface was made) or a receive
// thread that would not die still uses it.
bool softc_still_owned(const Softc& sc) { return sc.ifp != nullptr || sc.rx_thread_stuck; }

int attach(const pktd_host& host, pktd_driver* drv, const char* options) {
  Options opt;
  if (int err = parse_options(host, options, opt); err != 0) return err;
  auto* sc = new (std::nothrow) Softc(host, drv, std::move(opt));
  return pktd_kit::build_softc(sc, attach_softc, release, softc_still_owned);
}

int nointr_attach(const pktd_host* host, pktd_driver* drv, const char* options) {
  return pktd_kit::guarded_attach(host, kDriverName, [&] { return attach(*host, drv, options); });
}

}  // namespace
}  // namespace pktd_nointr

extern "C" __attribute__((visibility("default"))) const pktd_driver_info* pktd_driver_entry(void) {
  static constexpr pktd_driver_info kInfo = {.abi_version = PKTD_DRIVER_ABI_VERSION,
                                             .name = "nointr",
                                             .flags = 0,
                                             .attach = pktd_nointr::nointr_attach,
                                             .unload = nullptr};
  return &kInfo;
}
