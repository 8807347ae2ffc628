// devnp-tap.so: one pktd interface per Linux TAP device. Attach, the interface callbacks that
// are not on the data path (init, stop, detach) and the exported entry point.
//
// Link state. A TAP's carrier is on for as long as a process holds its fd, so the carrier alone
// says only "pktd is running", which pktd knows. What the user of the Linux side controls is its
// admin state (ip link set tapN up/down), and while it is down Linux neither sends us anything
// nor takes our frames (write fails with EIO): the wire is as good as unplugged. So the pktd
// link is UP exactly when the Linux side is IFF_UP with carrier (IFF_LOWER_UP, which keeps the
// rule honest should the carrier ever drop), followed through an rtnetlink socket subscribed to
// RTMGRP_LINK and read by its own fd interrupt source. Not IFF_RUNNING: that is the operational
// state, which Linux updates asynchronously (linkwatch) after the carrier comes on, so link
// messages sent in between would make the link flap down and up at attach. The pktd interface's
// own up/down state stays the pktd user's business (seed guide: the two are independent).
#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <new>
#include <string>

#include "softc.h"

namespace pktd_tap {


namespace {

// Link messages for one device are a few KiB; a longer datagram is cut short (MSG_TRUNC) and
// answered with a fresh query instead.
constexpr size_t kLinkBufBytes = 32 * 1024;

// Supported admin flags: an Ethernet that does not hear its own broadcasts.
constexpr uint32_t kIfFlags = PKTD_IFF_BROADCAST | PKTD_IFF_SIMPLEX | PKTD_IFF_MULTICAST;

// --- teardown ---

// Everything attach made except the interface and the softc; safe on a half-built softc and
// when called twice.
void release(Softc& sc) {
  const pktd_host& h = sc.host;
  // Sources first: irq_detach waits for a running process callback, and after it none can
  // touch the fds. The link source first, as it may detach the receive source itself.
  if (sc.link_irq != nullptr) h.irq_detach(sc.link_irq);
  sc.link_irq = nullptr;
  if (pktd_irq* rx = sc.rx_irq.exchange(nullptr)) h.irq_detach(rx);
  // stop(1) has cleared RUNNING under the transmit lock, so start no longer arms the kick.
  h.callout_stop(&sc.kick);
  if (sc.link_fd >= 0) ::close(sc.link_fd);
  sc.link_fd = -1;
  // The last close removes a device we created, unless persist was given.
  if (sc.tap.fd >= 0) ::close(sc.tap.fd);
  sc.tap.fd = -1;
}

// --- pktd_if_ops ---

int tap_init(pktd_ifnet* ifp, void* softc) {
  auto* sc = static_cast<Softc*>(softc);
  // Nothing to program: a TAP has no filters or rings. Idempotent by construction.
  return guarded(&sc->host, "init", EIO, [&] {
    sc->host.if_set_flags(ifp, PKTD_IFF_RUNNING, 0);
    return 0;
  });
}

// A start on another worker lets the transmit lock go while it writes a frame (LockDuringSend):
// stop waits for it as the seed's sam_stop does, polling OACTIVE with the lock let go. pktd has
// already waited for a running handed start before calling stop; this covers one that was
// handed before the interface went down and runs just now (over an empty queue: microseconds).
// Bounded, because OACTIVE left set by a start that failed part-way would otherwise hold the
// stack context here for ever.
constexpr int kStopPolls = 200;
constexpr useconds_t kStopPollUs = 50;

void tap_stop(pktd_ifnet* ifp, void* softc, int /*disable*/) {
  auto* sc = static_cast<Softc*>(softc);
  const pktd_host& h = sc->host;
  // Under the transmit lock, as the seed's sam_stop: a start running now finishes first; one
  // after it sees RUNNING clear and neither sends nor arms the kick.
  h.if_tx_lock(ifp);
  guarded(&h, "stop", [&] {
    // A pending kick means no start is running (start stops it first): OACTIVE is the kick's.
    if (h.callout_stop(&sc->kick) != 0) h.if_set_flags(ifp, 0, PKTD_IFF_OACTIVE);
    int polls = 0;
    for (; polls < kStopPolls && (h.if_flags(ifp) & PKTD_IFF_OACTIVE) != 0; ++polls) {
      h.if_tx_unlock(ifp);
      ::usleep(kStopPollUs);
      h.if_tx_lock(ifp);
    }
    if (polls == kStopPolls)
      h.log(PKTD_LOG_WARNING, "tap: %s: stop: OACTIVE still set after %d ms; cleared",
            h.if_name(ifp), kStopPolls * static_cast<int>(kStopPollUs) / 1000);
    h.if_set_flags(ifp, 0, PKTD_IFF_RUNNING | PKTD_IFF_OACTIVE);
  });
  h.if_tx_unlock(ifp);
}

void tap_detach(pktd_ifnet* /*ifp*/, void* softc) {
  auto* sc = static_cast<Softc*>(softc);
  guarded(&sc->host, "detach", [&] { release(*sc); });
  delete sc;
}

constexpr pktd_if_ops kOps = {
    .init = tap_init, .start = tap_start, .stop = tap_stop, .ioctl = nullptr,
    .detach = tap_detach};

// --- attach ---


// The MTU to ask for: an existing device's (dev= names one), else Ethernet's.
uint32_t initial_mtu(const Options& opt) {
  uint32_t mtu = 0;
  if (!opt.dev.empty() && query_mtu(opt.dev, mtu) == 0) return mtu;
  return kDefaultMtu;
}

int create_interface(Softc& sc) {
  pktd_if_config cfg{};
  cfg.name = "tap";
  cfg.unit = -1;
  // cfg.mac stays zero: pktd's side of the wire gets its own address (or the user's mac=);
  // the Linux side keeps its own, as two ends of a cable do.
  cfg.mtu = initial_mtu(sc.opt);
  cfg.flags = kIfFlags;
  cfg.capabilities = 0;  // VNET_HDR: PKTD_IFCAP_* once offloads are implemented
  cfg.ops = &kOps;
  cfg.softc = &sc;
  sc.ifp = sc.host.if_attach(sc.drv, &cfg);
  // pktd has logged why; a taken name is the usual reason.
  return sc.ifp != nullptr ? 0 : EEXIST;
}

int open_device(Softc& sc) {
  const pktd_host& h = sc.host;
  // Named after the pktd interface unless dev= says otherwise; that name exists only now that
  // if_attach has applied the user's name= and unit=.
  const char* ifname = h.if_name(sc.ifp);
  std::string dev = !sc.opt.dev.empty() ? sc.opt.dev : std::string(ifname);
  if (int err = open_tap(dev, sc.tap); err != 0) {
    h.log(PKTD_LOG_ERROR, "tap: %s: cannot attach to Linux TAP device %s: %s", ifname,
          dev.c_str(), error_text(err));
    return err;
  }
  sc.ifindex = ::if_nametoindex(sc.tap.name.c_str());
  if (sc.ifindex == 0) {
    int err = errno;
    h.log(PKTD_LOG_ERROR, "tap: %s: no index for Linux device %s: %s", ifname,
          sc.tap.name.c_str(), error_text(err));
    return err;
  }
  return 0;
}

// The monitor was subscribed before the device was opened, so no change after this query is
// missed; what it queued before it (the carrier still off) is older than the query and dropped,
// or the link would flap down and up at attach.
void initial_link_state(Softc& sc) {
  drain_link_monitor(sc.link_fd);
  uint32_t mtu = 0;
  uint32_t flags = 0;
  if (query_mtu(sc.tap.name, mtu) == 0)
    sc.rx_capacity.store(frame_capacity(mtu), std::memory_order_relaxed);
  if (query_flags(sc.tap.name, flags) != 0) flags = 0;
  tap_set_link(sc, linux_admin_up(flags));
}

int attach_irqs(Softc& sc) {
  const pktd_host& h = sc.host;
  sc.rx_irq = h.irq_attach(sc.drv, "tap rx", sc.tap.fd, tap_rx_process, tap_irq_enable, &sc);
  if (sc.rx_irq.load() == nullptr) return EIO;  // pktd has logged why
  sc.link_irq =
      h.irq_attach(sc.drv, "tap link", sc.link_fd, tap_link_process, tap_irq_enable, &sc);
  return sc.link_irq != nullptr ? 0 : EIO;
}

// Last: until attach has succeeded, a device we created must vanish with our fd.
int make_persistent(Softc& sc) {
  if (!sc.opt.persist || !sc.tap.created) return 0;
  int err = set_persist(sc.tap.fd, true);
  if (err != 0)
    sc.host.log(PKTD_LOG_ERROR, "tap: %s: cannot make %s persistent: %s",
                sc.host.if_name(sc.ifp), sc.tap.name.c_str(), error_text(err));
  return err;
}

int attach_softc(Softc& sc) {
  const pktd_host& h = sc.host;
  // Allocated up front so that nothing after if_attach allocates but the fds.
  sc.tx_buf.resize(kMaxFrame);
  sc.rx_drain.resize(kMaxFrame);
  sc.link_buf.resize(kLinkBufBytes);
  h.callout_init(&sc.kick);
  if (int err = open_link_monitor(sc.link_fd); err != 0) {
    h.log(PKTD_LOG_ERROR, "tap: cannot open the rtnetlink link monitor: %s", error_text(err));
    return err;
  }
  if (int err = create_interface(sc); err != 0) return err;
  if (int err = open_device(sc); err != 0) return err;
  initial_link_state(sc);
  if (int err = attach_irqs(sc); err != 0) return err;
  if (int err = make_persistent(sc); err != 0) return err;
  h.log(PKTD_LOG_INFO, "tap: %s: attached to Linux device %s (%s%s)", h.if_name(sc.ifp),
        sc.tap.name.c_str(), sc.tap.created ? "created" : "existing",
        sc.tap.created && sc.opt.persist ? ", persistent" : "");
  return 0;
}

int attach(const pktd_host& host, pktd_driver* drv, const char* options) {
  Options opt;
  if (int err = parse_options(host, options, opt); err != 0) return err;
  auto* sc = new (std::nothrow) Softc(host, drv, std::move(opt));
  return pktd_kit::build_softc(sc, attach_softc, release);
}

int tap_attach(const pktd_host* host, pktd_driver* drv, const char* options) {
  return pktd_kit::guarded_attach(host, kDriverName, [&] { return attach(*host, drv, options); });
}

}  // namespace
}  // namespace pktd_tap

extern "C" __attribute__((visibility("default"))) const pktd_driver_info* pktd_driver_entry(void) {
  static constexpr pktd_driver_info kInfo = {.abi_version = PKTD_DRIVER_ABI_VERSION,
                                             .name = "tap",
                                             .flags = PKTD_DRIVER_START_ON_WORKER,
                                             .attach = pktd_tap::tap_attach,
                                             .unload = nullptr};
  return &kInfo;
}
