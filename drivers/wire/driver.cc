// devnp-wire.so: one pktd interface per end of a wire link, a point-to-point Ethernet between
// two pktd instances through shared memory (docs/wire-driver.md). Attach, the interface
// callbacks that are not on the data path (init, stop, detach) and the exported entry point.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <new>
#include <random>
#include <string>

#include "softc.h"

namespace devnp_wire {


namespace {

// Supported admin flags: an Ethernet that does not hear its own broadcasts.
constexpr uint32_t kIfFlags = PKTD_IFF_BROADCAST | PKTD_IFF_SIMPLEX | PKTD_IFF_MULTICAST;

// --- teardown ---

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Everything attach made except the interface and the softc; safe on a half-built softc and
// when called twice. Order: sources first (irq_detach waits for a running callback, and after
// it none touches the fds or the segment); then the callout (stop has cleared RUNNING under the
// transmit lock, so start no longer arms it, and it is only ever armed in the stack context,
// where this runs); then the fds (closing the connection tells the peer: link down there);
// the mapping; and last the segment, whose close lets go of our end.
void release(Softc& sc) {
  const pktd_host& h = sc.host;
  if (sc.ctl_irq != nullptr) h.irq_detach(sc.ctl_irq);
  sc.ctl_irq = nullptr;
  if (sc.rx_irq != nullptr) h.irq_detach(sc.rx_irq);
  sc.rx_irq = nullptr;
  if (sc.kick_ready) h.callout_stop(&sc.kick);
  close_fd(sc.conn_fd);
  close_fd(sc.listen_fd);
  close_fd(sc.ctl_epoll);
  close_fd(sc.tx.peer_efd);
  sc.tx.peer_up = false;
  close_fd(sc.rx_efd);
  unmap_segment(sc.base);
  sc.base = nullptr;
  leave_link(sc.paths, sc.seg_fd, sc.end);
  sc.seg_fd = -1;
}

// --- pktd_if_ops ---

int wire_init(pktd_ifnet* ifp, void* softc) {
  auto* sc = static_cast<Softc*>(softc);
  return guarded(&sc->host, "init", EIO, [&] {
    uint32_t mtu = sc->host.if_mtu(ifp);
    if (mtu > kMaxMtu) {
      sc->host.log(PKTD_LOG_ERROR, "wire: %s: mtu %u is more than a wire link carries (%u)",
                   sc->name(), mtu, kMaxMtu);
      return EINVAL;
    }
    // Nothing to program: the rings take any frame up to kMaxFrame. Idempotent by construction.
    sc->host.if_set_flags(ifp, PKTD_IFF_RUNNING, 0);
    return 0;
  });
}

void wire_stop(pktd_ifnet* ifp, void* softc, int /*disable*/) {
  auto* sc = static_cast<Softc*>(softc);
  // Under the transmit lock, as the seed's sam_stop: a start running now finishes first; one
  // after it sees RUNNING clear and neither sends nor arms the kick.
  TxLock lock(*sc);
  guarded(&sc->host, "stop", [&] {
    sc->host.callout_stop(&sc->kick);
    sc->faults.clear();  // held frames would be stale by the next init
    sc->host.if_set_flags(ifp, 0, PKTD_IFF_RUNNING | PKTD_IFF_OACTIVE);
  });
}

void wire_detach(pktd_ifnet* /*ifp*/, void* softc) {
  auto* sc = static_cast<Softc*>(softc);
  guarded(&sc->host, "detach", [&] { release(*sc); });
  delete sc;
}

constexpr pktd_if_ops kOps = {.init = wire_init,
                              .start = wire_start,
                              .stop = wire_stop,
                              .ioctl = wire_ioctl,
                              .detach = wire_detach};

// --- attach ---


int create_interface(Softc& sc) {
  pktd_if_config cfg{};
  cfg.name = "wire";
  cfg.unit = -1;
  cfg.mtu = 1500;  // the user's mtu= wins
  cfg.flags = kIfFlags;
  cfg.capabilities = 0;
  cfg.ops = &kOps;
  cfg.softc = &sc;
  sc.ifp = sc.host.if_attach(sc.drv, &cfg);
  if (sc.ifp == nullptr) return EEXIST;  // pktd has logged why; a taken name is the usual one
  uint32_t mtu = sc.host.if_mtu(sc.ifp);
  if (mtu > kMaxMtu) {
    sc.host.log(PKTD_LOG_ERROR, "wire: %s: mtu=%u: a wire link carries at most %u", sc.name(), mtu,
                kMaxMtu);
    return EINVAL;
  }
  sc.host.if_link_state_change(sc.ifp, PKTD_LINK_DOWN);  // until a peer says hello
  return 0;
}

int fail(Softc& sc, int err, const std::string& why) {
  sc.host.log(PKTD_LOG_ERROR, "wire: %s: link %s: %s", sc.name(), sc.opt.link.c_str(), why.c_str());
  return err;
}

// Our end of the link, under the attach lock: an end, the segment (taken over when alone),
// our eventfd and our listening socket; then hello to the other end if it is there.
int join_link(Softc& sc) {
  std::string error;
  sc.paths = link_paths(sc.opt.link);
  if (int err = open_locked(sc.paths, sc.seg_fd, error); err != 0)
    return fail(sc, err, "cannot attach: " + error);
  sc.end = take_end(sc.seg_fd);
  if (sc.end < 0)
    return fail(sc, EBUSY,
                "refused: the link already has its two ends (two pktd interfaces "
                "are attached to it)");
  bool alone = !end_alive(sc.seg_fd, 1 - sc.end);
  if (int err = map_segment(sc.seg_fd, alone, sc.base, error); err != 0)
    return fail(sc, err, error);
  sc.tx.ring = Producer(sc.base, sc.end);
  sc.rx.ring = Consumer(sc.base, 1 - sc.end);
  sc.rx_efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (sc.rx_efd < 0) return fail(sc, errno, std::string("eventfd: ") + error_text(errno));
  rx_resync(sc);
  if (int err = listen_at(sc.paths.socket[sc.end], sc.listen_fd, error); err != 0)
    return fail(sc, err, error);
  sc.ctl_epoll = ::epoll_create1(EPOLL_CLOEXEC);
  if (sc.ctl_epoll < 0) return fail(sc, errno, std::string("epoll: ") + error_text(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = sc.listen_fd;
  if (::epoll_ctl(sc.ctl_epoll, EPOLL_CTL_ADD, sc.listen_fd, &ev) != 0)
    return fail(sc, errno, std::string("epoll: ") + error_text(errno));
  if (!alone) connect_to_peer(sc);
  // A newcomer may connect from here on; its connection waits in the backlog until the
  // control source below runs.
  unlock_attach(sc.seg_fd);
  return 0;
}

int attach_irqs(Softc& sc) {
  const pktd_host& h = sc.host;
  sc.rx_irq = h.irq_attach(sc.drv, "wire rx", sc.rx_efd, wire_rx_process, wire_irq_enable, &sc);
  if (sc.rx_irq == nullptr) return EIO;  // pktd has logged why
  sc.ctl_irq =
      h.irq_attach(sc.drv, "wire peer", sc.ctl_epoll, wire_ctl_process, wire_irq_enable, &sc);
  return sc.ctl_irq != nullptr ? 0 : EIO;
}

int attach_softc(Softc& sc) {
  const pktd_host& h = sc.host;
  h.callout_init(&sc.kick);
  sc.kick_ready = true;
  if (int err = create_interface(sc); err != 0) return err;
  if (int err = join_link(sc); err != 0) return err;
  if (int err = attach_irqs(sc); err != 0) return err;
  h.log(PKTD_LOG_INFO, "wire: %s: link %s, end %d (%s); faults %s seed=%llu", sc.name(),
        sc.opt.link.c_str(), sc.end, sc.conn_fd >= 0 ? "the other end is there" : "first end",
        format_settings(sc.faults.settings()).c_str(),
        static_cast<unsigned long long>(sc.faults.seed()));
  return 0;
}

// seed= replays a run; without it, a fresh one (logged, and shown by the status request).
uint64_t choose_seed(const Options& opt) {
  if (opt.faults.seed) return *opt.faults.seed;
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

int attach(const pktd_host& host, pktd_driver* drv, const char* options) {
  Options opt;
  if (int err = parse_options(host, options, opt); err != 0) return err;
  uint64_t seed = choose_seed(opt);
  auto* sc = new (std::nothrow) Softc(host, drv, std::move(opt), seed);
  return pktd_kit::build_softc(sc, attach_softc, release);
}

int wire_attach(const pktd_host* host, pktd_driver* drv, const char* options) {
  return pktd_kit::guarded_attach(host, kDriverName, [&] { return attach(*host, drv, options); });
}

}  // namespace
}  // namespace devnp_wire

extern "C" __attribute__((visibility("default"))) const pktd_driver_info* pktd_driver_entry(void) {
  static constexpr pktd_driver_info kInfo = {.abi_version = PKTD_DRIVER_ABI_VERSION,
                                             .name = "wire",
                                             .flags = 0,
                                             .attach = devnp_wire::wire_attach,
                                             .unload = nullptr};
  return &kInfo;
}
