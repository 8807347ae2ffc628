// devnp-afpacket.so: one pktd interface on an existing Linux interface (a veth end, a bridge
// port, a NIC), through an AF_PACKET socket with a TPACKET_V3 receive ring. Attach, the
// interface callbacks that are not on the data path (init, stop, detach) and the entry point.
//
// Two ends of one wire. The pktd interface keeps its own MAC (pktd's locally administered one,
// or mac=); the Linux device is put in promiscuous mode so that frames to that MAC reach the
// socket, and receive filters them as a NIC would. The Linux device's own stack still sees
// every frame, so it must not hold pktd's addresses (docs/afpacket.md).
//
// Link state: the pktd link is UP when the Linux device is IFF_UP with carrier (IFF_LOWER_UP),
// followed through rtnetlink (link.cc). pktd's own up/down is the pktd user's business (seed
// guide: the interface state and the link state are independent).
#include <net/if.h>
#include <net/if_arp.h>
#include <unistd.h>

#include <cerrno>
#include <new>

#include "softc.h"

namespace pktd_afpacket {


namespace {

// Link messages for one device are a few KiB; a longer datagram is cut short (MSG_TRUNC) and
// answered with a fresh query instead.
constexpr size_t kLinkBufBytes = 32 * 1024;

// Supported admin flags: an Ethernet that does not hear its own broadcasts.
constexpr uint32_t kIfFlags = PKTD_IFF_BROADCAST | PKTD_IFF_SIMPLEX | PKTD_IFF_MULTICAST;

// What TPACKET_V3 puts in a block before a frame's first byte: the block descriptor, then per
// frame the tpacket3_hdr, the sockaddr_ll and alignment (if_packet.h, "Frame structure").
// Rounded up generously; a block smaller than a frame plus this truncates the frame.
constexpr uint32_t kBlockOverhead = 256;

// --- teardown ---

// Everything attach made except the interface and the softc; safe on a half-built softc and
// when called twice. The order is the brief's: interrupts, callout, ring, fds.
void release(Softc& sc) {
  const pktd_host& h = sc.host;
  // Sources first: irq_detach waits for a running process callback, and after it none can touch
  // the ring or the fds. The link source first, as it may detach the receive source itself.
  if (sc.link_irq != nullptr) h.irq_detach(sc.link_irq);
  sc.link_irq = nullptr;
  if (pktd_irq* rx = sc.rx_irq.exchange(nullptr)) h.irq_detach(rx);
  // stop(1) has cleared RUNNING under the transmit lock, so start no longer arms the kick.
  h.callout_stop(&sc.kick);
  // Closing the socket also ends its promiscuous membership on the Linux device.
  close_packet_ring(sc.ring);
  if (sc.link_fd >= 0) ::close(sc.link_fd);
  sc.link_fd = -1;
}

// --- pktd_if_ops ---

int afp_init(pktd_ifnet* ifp, void* softc) {
  auto* sc = static_cast<Softc*>(softc);
  // Nothing to program: the ring runs from attach, and the address filter reads PROMISC as each
  // frame arrives. Idempotent by construction.
  return guarded(&sc->host, "init", EIO, [&] {
    sc->host.if_set_flags(ifp, PKTD_IFF_RUNNING, 0);
    return 0;
  });
}

void afp_stop(pktd_ifnet* ifp, void* softc, int /*disable*/) {
  auto* sc = static_cast<Softc*>(softc);
  // Under the transmit lock, as the seed's sam_stop: a start running now finishes first; one
  // after it sees RUNNING clear and neither sends nor arms the kick.
  sc->host.if_tx_lock(ifp);
  guarded(&sc->host, "stop", [&] {
    sc->host.callout_stop(&sc->kick);
    sc->host.if_set_flags(ifp, 0, PKTD_IFF_RUNNING | PKTD_IFF_OACTIVE);
  });
  sc->host.if_tx_unlock(ifp);
}

void afp_detach(pktd_ifnet* /*ifp*/, void* softc) {
  auto* sc = static_cast<Softc*>(softc);
  guarded(&sc->host, "detach", [&] { release(*sc); });
  delete sc;
}

constexpr pktd_if_ops kOps = {.init = afp_init,
                              .start = afp_start,
                              .stop = afp_stop,
                              .ioctl = afp_ioctl,
                              .detach = afp_detach};

// --- attach ---


// The Linux device named by dev=: it must exist in pktd's network namespace and be an Ethernet.
int find_device(Softc& sc, LinkEvent& info) {
  const pktd_host& h = sc.host;
  const char* dev = sc.opt.dev.c_str();
  sc.ifindex = ::if_nametoindex(dev);
  if (sc.ifindex == 0) {
    h.log(PKTD_LOG_ERROR, "afpacket: dev=%s: no such Linux interface in pktd's network namespace",
          dev);
    return ENODEV;
  }
  if (int err = query_link(sc.ifindex, info); err != 0) {
    h.log(PKTD_LOG_ERROR, "afpacket: dev=%s: cannot read its state: %s", dev, error_text(err));
    return err;
  }
  if (info.type != ARPHRD_ETHER) {
    h.log(PKTD_LOG_ERROR, "afpacket: dev=%s: not an Ethernet device (link type %u)", dev,
          unsigned{info.type});
    return ENOTSUP;
  }
  return 0;
}

// TPACKET_V3 clamps a frame longer than a block (tp_snaplen < tp_len), so a block must hold the
// longest frame the device's MTU allows.
int check_block_fits(const Softc& sc, uint32_t mtu) {
  uint64_t need = uint64_t{mtu} + kEthHeader + kVlanTag + kBlockOverhead;
  if (sc.opt.block_size >= need) return 0;
  sc.host.log(PKTD_LOG_ERROR,
              "afpacket: blocksize=%u cannot hold a frame of %s's MTU %u "
              "(needs at least %llu)",
              sc.opt.block_size, sc.opt.dev.c_str(), mtu, static_cast<unsigned long long>(need));
  return EINVAL;
}

int open_ring(Softc& sc) {
  RingGeometry g{sc.opt.block_size, sc.opt.block_count, sc.opt.frame_size, sc.opt.retire_ms};
  RingError err = open_packet_ring(sc.ifindex, g, sc.ring);
  if (err.err == 0) return 0;
  sc.host.log(PKTD_LOG_ERROR, "afpacket: dev=%s: %s failed: %s%s", sc.opt.dev.c_str(), err.step,
              error_text(err.err), err.err == EPERM ? " (packet sockets need CAP_NET_RAW)" : "");
  return err.err;
}

int create_interface(Softc& sc, uint32_t mtu) {
  pktd_if_config cfg{};
  cfg.name = "afp";
  cfg.unit = -1;
  // cfg.mac stays zero: pktd makes a locally administered address (or takes the user's mac=);
  // the Linux device keeps its own, as two stations on one wire.
  cfg.mtu = mtu;  // the Linux device's, so that what one side sends the other can take
  cfg.flags = kIfFlags;
  cfg.capabilities = 0;
  cfg.ops = &kOps;
  cfg.softc = &sc;
  sc.ifp = sc.host.if_attach(sc.drv, &cfg);
  if (sc.ifp == nullptr) return EEXIST;  // pktd has logged why; a taken name is the usual one
  sc.host.if_mac(sc.ifp, sc.mac);
  return 0;
}

// The monitor was subscribed before this query, so no change after it is missed; what it
// queued before is older than the query and dropped.
void initial_link_state(Softc& sc) {
  drain_link_monitor(sc.link_fd);
  LinkEvent now;
  bool up = query_link(sc.ifindex, now) == 0 && link_up(now.flags);
  afp_set_link(sc, up);
}

int attach_irqs(Softc& sc) {
  const pktd_host& h = sc.host;
  sc.rx_irq = h.irq_attach(sc.drv, "afpacket rx", sc.ring.fd, afp_rx_process, afp_irq_enable, &sc);
  if (sc.rx_irq.load() == nullptr) return EIO;  // pktd has logged why
  sc.link_irq =
      h.irq_attach(sc.drv, "afpacket link", sc.link_fd, afp_link_process, afp_irq_enable, &sc);
  return sc.link_irq != nullptr ? 0 : EIO;
}

int attach_softc(Softc& sc) {
  const pktd_host& h = sc.host;
  // Allocated up front so that nothing after if_attach allocates but the kernel's ring.
  sc.tx_buf.resize(kMaxFrame);
  sc.link_buf.resize(kLinkBufBytes);
  h.callout_init(&sc.kick);
  LinkEvent info;
  if (int err = find_device(sc, info); err != 0) return err;
  if (int err = check_block_fits(sc, info.mtu); err != 0) return err;
  if (int err = open_link_monitor(sc.link_fd); err != 0) {
    h.log(PKTD_LOG_ERROR, "afpacket: cannot open the rtnetlink link monitor: %s", error_text(err));
    return err;
  }
  if (int err = open_ring(sc); err != 0) return err;
  if (int err = create_interface(sc, info.mtu); err != 0) return err;
  initial_link_state(sc);
  if (int err = attach_irqs(sc); err != 0) return err;
  h.log(PKTD_LOG_INFO,
        "afpacket: %s: attached to Linux device %s (index %u, MTU %u), ring %u x "
        "%u bytes",
        h.if_name(sc.ifp), sc.opt.dev.c_str(), sc.ifindex, info.mtu, sc.opt.block_count,
        sc.opt.block_size);
  return 0;
}

int attach(const pktd_host& host, pktd_driver* drv, const char* options) {
  Options opt;
  if (int err = parse_options(host, options, opt); err != 0) return err;
  auto* sc = new (std::nothrow) Softc(host, drv, std::move(opt));
  return pktd_kit::build_softc(sc, attach_softc, release);
}

int afp_attach(const pktd_host* host, pktd_driver* drv, const char* options) {
  return pktd_kit::guarded_attach(host, kDriverName, [&] { return attach(*host, drv, options); });
}

}  // namespace
}  // namespace pktd_afpacket

extern "C" __attribute__((visibility("default"))) const pktd_driver_info* pktd_driver_entry(void) {
  static constexpr pktd_driver_info kInfo = {.abi_version = PKTD_DRIVER_ABI_VERSION,
                                             .name = "afpacket",
                                             .flags = 0,
                                             .attach = pktd_afpacket::afp_attach,
                                             .unload = nullptr};
  return &kInfo;
}
